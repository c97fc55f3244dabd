import { ApiProperty } from '@nestjs/swagger';
import { QueueName } from '@keyturn/contracts';

/** A queue's job counts, by BullMQ state. */
export class QueueCountsResponse {
  @ApiProperty({ enum: QueueName, enumName: 'QueueName' }) name: string;
  @ApiProperty({ type: 'integer', description: 'waiting to be picked up (prioritized jobs included)' }) waiting: number;
  @ApiProperty({ type: 'integer' }) active: number;
  @ApiProperty({ type: 'integer', description: 'scheduled for later (retries, verify waits)' }) delayed: number;
  @ApiProperty({ type: 'integer', description: 'failed and kept for inspection (7 days)' }) failed: number;
  @ApiProperty({ type: 'integer', description: 'completed and kept for inspection (24 h)' }) completed: number;
}

export class QueuesResponse {
  @ApiProperty({ type: [QueueCountsResponse] }) queues: QueueCountsResponse[];
}
