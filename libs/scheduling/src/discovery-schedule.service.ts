import { Inject, Injectable, Logger } from '@nestjs/common';
import { Cron } from 'croner';
import { KEYTURN_CONFIG, type KeyturnConfig } from '@keyturn/config';
import { DiscoveriesService } from '@keyturn/secrets';

/**
 * KEYTURN_DISCOVERY_SCHEDULE: on each scheduler tick, the latest cron fire
 * time that passed since the last look (UTC) starts one discovery run. Every
 * replica fires it; the run's unique `scheduled_for` lets one win. Fire times
 * missed while no scheduler ran are not made up (the next one comes as usual).
 */
@Injectable()
export class DiscoveryScheduleService {
  private readonly logger = new Logger('DiscoverySchedule');
  private readonly cron?: Cron;
  /** Fire times after this (ms) are still to come. */
  private since: number;

  constructor(
    private readonly discoveries: DiscoveriesService,
    @Inject(KEYTURN_CONFIG) private readonly config: Pick<KeyturnConfig, 'discovery'>,
  ) {
    this.since = Date.now();
    const { schedule } = config.discovery;
    if (schedule) this.cron = new Cron(schedule, { paused: true, timezone: 'UTC' });
  }

  /** The fire time a tick at `now` is due to start a run for, if any (the latest one passed since the last look). */
  dueAt(now: number): Date | null {
    if (!this.cron) return null;
    let due: Date | null = null;
    for (let next = this.cron.nextRun(new Date(this.since)); next && next.getTime() <= now; next = this.cron.nextRun(next)) due = next;
    this.since = Math.max(this.since, now);
    return due;
  }

  /** Starts the run of the fire time that passed, if one did; its id, or null (none due, or another replica made it). */
  async fire(now = Date.now()): Promise<string | null> {
    const due = this.dueAt(now);
    const { executorSecretId, pathPrefix } = this.config.discovery;
    if (!due || !executorSecretId) return null;
    const run = await this.discoveries.requestScheduled(executorSecretId, pathPrefix, due);
    if (run) this.logger.log({ discoveryId: run.id, scheduledFor: due.toISOString() }, 'scheduled discovery run started');
    return run?.id ?? null;
  }
}
