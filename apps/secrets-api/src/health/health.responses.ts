import { ApiProperty } from '@nestjs/swagger';

export class LiveResponse {
  @ApiProperty({ enum: ['ok'] }) status: string;
}

export class ReadyChecksResponse {
  @ApiProperty({ enum: ['ok', 'down'] }) postgres: string;
  @ApiProperty({ enum: ['ok', 'down'] }) redis: string;
}

export class ReadyResponse {
  @ApiProperty({ enum: ['ok', 'unavailable'] }) status: string;
  @ApiProperty({ type: ReadyChecksResponse }) checks: ReadyChecksResponse;
}
