import { Inject, Injectable, Logger, type BeforeApplicationShutdown, type OnApplicationBootstrap } from '@nestjs/common';
import { KEYTURN_CONFIG, type KeyturnConfig } from '@keyturn/config';
import { DiscoveryScheduleService, DueWorkService, ReconcilerService } from '@keyturn/scheduling';
import { WebhookDispatcherService } from '@keyturn/events';

const AUTO_CHANGE_EVERY_MS = 60_000;
/** Per tick, at most this many batches of due heartbeats, so one tick cannot run forever. */
const MAX_BATCHES_PER_TICK = 50;

/** The scheduler's loop: each tick enqueues due work, repairs lost jobs and sends webhooks. */
@Injectable()
export class SchedulerService implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger('Scheduler');
  private timer?: NodeJS.Timeout;
  private running?: Promise<void>;
  private stopped = false;
  private lastAutoChange = 0;

  constructor(
    private readonly due: DueWorkService,
    private readonly reconciler: ReconcilerService,
    private readonly discoverySchedule: DiscoveryScheduleService,
    private readonly webhooks: WebhookDispatcherService,
    @Inject(KEYTURN_CONFIG) private readonly config: KeyturnConfig,
  ) {}

  onApplicationBootstrap(): void {
    this.logger.log(`ticking every ${this.config.heartbeat.tickMs} ms`);
    this.schedule(0);
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.running = this.tick().finally(() => this.schedule(this.config.heartbeat.tickMs));
    }, ms);
  }

  async tick(): Promise<void> {
    const step = async (name: string, fn: () => Promise<unknown>) => {
      try {
        await fn();
      } catch (e) {
        this.logger.error(`${name} failed: ${(e as Error).message}`);
      }
    };
    await step('heartbeats', async () => {
      // A bounded heartbeat backlog in Redis (KEYTURN_SCHEDULER_MAX_QUEUED_HEARTBEATS): the rest stays due in Postgres.
      const room = await this.due.heartbeatRoom();
      const total = await this.due.enqueueDueHeartbeatBatches(room, MAX_BATCHES_PER_TICK, () => this.stopped);
      if (total) this.logger.debug(`enqueued ${total} heartbeat(s)`);
    });
    // Scheduled changes every tick: a claim through a partial index, so a per-minute schedule keeps its minutes.
    await step('scheduled changes', async () => {
      const n = await this.due.enqueueScheduledChanges(() => this.stopped);
      if (n) this.logger.debug(`requested ${n} scheduled change(s)`);
    });
    if (Date.now() - this.lastAutoChange >= AUTO_CHANGE_EVERY_MS) {
      this.lastAutoChange = Date.now();
      await step('automatic changes', () => this.due.enqueueAutoChanges(() => this.stopped));
    }
    await step('discovery schedule', () => this.discoverySchedule.fire());
    await step('reconciler', () => this.reconciler.reconcile());
    await step('webhooks', () => this.webhooks.deliverDue());
  }

  /**
   * SIGTERM, before the database pool and the queues close: no new tick, and
   * the running one finishes (its loops stop between batches) within
   * KEYTURN_SHUTDOWN_TIMEOUT_MS. Past that the process exits at once; every
   * step is safe to cut short (claims and leases lapse, the next tick redoes it).
   */
  async beforeApplicationShutdown(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    if (!this.running) return;
    const timeoutMs = this.config.shutdown.timeoutMs;
    let timer: NodeJS.Timeout | undefined;
    const outcome = await Promise.race([
      this.running.then(() => 'drained' as const),
      new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), timeoutMs))),
    ]);
    clearTimeout(timer);
    if (outcome === 'drained') {
      this.logger.log('drained: no tick running');
      return;
    }
    this.logger.warn(`drain timeout: a tick still running after ${timeoutMs} ms (KEYTURN_SHUTDOWN_TIMEOUT_MS); exiting now, the next scheduler redoes its work`);
    process.exit(0);
  }
}
