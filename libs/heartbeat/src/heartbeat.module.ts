import { Module } from '@nestjs/common';
import { RotationEngineModule } from '@keyturn/rotation';
import { HeartbeatUseCase } from './heartbeat.usecase.js';

/** The worker's heartbeat check. It shares the paced IAM client, the version cipher and the clock of RotationEngineModule. */
@Module({
  imports: [RotationEngineModule],
  providers: [HeartbeatUseCase],
  exports: [HeartbeatUseCase],
})
export class HeartbeatModule {}
