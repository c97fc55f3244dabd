import { Module } from '@nestjs/common';
import { VaultModule } from '@keyturn/vault';
import { RotationRequestsModule } from '@keyturn/secrets';
import { EventsModule } from '@keyturn/events';
import { DueWorkService } from './due-work.service.js';
import { ReconcilerService } from './reconciler.service.js';
import { DiscoveryScheduleService } from './discovery-schedule.service.js';

/** The scheduler side: due heartbeats, automatic changes, scheduled discovery runs, the reconciler, and (re-exported) webhook delivery. */
@Module({
  imports: [VaultModule, EventsModule, RotationRequestsModule],
  providers: [DueWorkService, ReconcilerService, DiscoveryScheduleService],
  exports: [DueWorkService, ReconcilerService, DiscoveryScheduleService, EventsModule],
})
export class SchedulingModule {}
