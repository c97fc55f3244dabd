import { Controller, Get, Logger } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { ErrorCode, KeyturnError, QueueName } from '@keyturn/contracts';
import { ENQUEUE_TIMEOUT_MS, JobProducer } from '@keyturn/queue';
import { RequireRole } from '../common/auth.decorators.js';
import { ANY_REQUEST_ERRORS, ApiErrors, AUTH_ERRORS } from '../common/error.response.js';
import { QueuesResponse, type QueueCountsResponse } from './queues.responses.js';

const within = <T>(p: Promise<T>, ms: number) =>
  Promise.race([p, new Promise<never>((_, rej) => setTimeout(() => rej(new Error(`Redis gave no job counts within ${ms} ms`)), ms).unref())]);

/** Read-only: how much work waits, runs and failed, for operators (npm run cli -- queues). */
@ApiTags('queues')
@ApiBearerAuth()
@Controller('v1/queues')
export class QueuesController {
  private readonly logger = new Logger('Queues');

  constructor(private readonly producer: JobProducer) {}

  @Get()
  @RequireRole('operator')
  @ApiOperation({ summary: 'Job counts of the rotation, heartbeat and discovery queues (waiting, active, delayed, failed, completed)' })
  @ApiOkResponse({ type: QueuesResponse })
  @ApiErrors(...ANY_REQUEST_ERRORS, ...AUTH_ERRORS)
  async list(): Promise<QueuesResponse> {
    const queues = await Promise.all(
      Object.values(QueueName).map(async (name): Promise<QueueCountsResponse> => {
        const c = await within(
          this.producer.queue(name).getJobCounts('waiting', 'prioritized', 'active', 'delayed', 'failed', 'completed'),
          ENQUEUE_TIMEOUT_MS,
        );
        return {
          name,
          waiting: (c.waiting ?? 0) + (c.prioritized ?? 0),
          active: c.active ?? 0,
          delayed: c.delayed ?? 0,
          failed: c.failed ?? 0,
          completed: c.completed ?? 0,
        };
      }),
    ).catch((e: Error) => {
      this.logger.warn(`queue counts: ${e.message}`);
      throw new KeyturnError(ErrorCode.QUEUES_UNAVAILABLE);
    });
    return { queues };
  }
}
