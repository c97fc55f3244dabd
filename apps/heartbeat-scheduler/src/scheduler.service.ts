import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { KEYTURN_CONFIG, type KeyturnConfig } from '@keyturn/config';
import { DueWorkService, ReconcilerService, WebhookDispatcherService } from '@keyturn/rotation';

const AUTO_CHANGE_EVERY_MS = 60_000;
/** Per tick, at most this many batches of due heartbeats, so one tick cannot run forever. */
const MAX_BATCHES_PER_TICK = 50;

/** The scheduler's loop: each tick enqueues due work, repairs lost jobs and sends webhooks. */
@Injectable()
export class SchedulerService implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('Scheduler');
  private timer?: NodeJS.Timeout;
  private running?: Promise<void>;
  private stopped = false;
  private lastAutoChange = 0;

  constructor(
    private readonly due: DueWorkService,
    private readonly reconciler: ReconcilerService,
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
      let total = 0;
      for (let i = 0; i < MAX_BATCHES_PER_TICK && !this.stopped; i++) {
        const n = await this.due.enqueueDueHeartbeats();
        total += n;
        if (n < this.config.heartbeat.batch) break;
      }
      if (total) this.logger.debug(`enqueued ${total} heartbeat(s)`);
    });
    if (Date.now() - this.lastAutoChange >= AUTO_CHANGE_EVERY_MS) {
      this.lastAutoChange = Date.now();
      await step('automatic changes', () => this.due.enqueueAutoChanges());
    }
    await step('reconciler', () => this.reconciler.reconcile());
    await step('webhooks', () => this.webhooks.deliverDue());
  }

  async onApplicationShutdown(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
  }
}
