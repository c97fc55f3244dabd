import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { ERRORS, QueueName, SECRET_TYPES, type HeartbeatStatus } from '@keyturn/contracts';
import { METRIC, QUEUE_JOB_STATES, type QueueJobState } from './metric-names.js';

/** Label value for anything outside a label's enum: a bug to fix, never a value that grows without bound. */
export const OTHER = 'other';
/** How long one scrape-time source may take before its gauge is left out of the scrape. */
const SCRAPE_TIMEOUT_MS = 2_000;
/** `code` of a succeeded rotation. */
export const NO_CODE = 'none';

const HTTP_METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);
const ROTATION_MODES = new Set(['basic', 'privileged']);
const HEARTBEAT_OUTCOMES = new Set<string>(['success', 'failed', 'unable-to-connect', 'not-supported', 'unknown'] satisfies HeartbeatStatus[]);
const WEBHOOK_OUTCOMES = new Set(['delivered', 'retry', 'gave-up']);
/** An IAM or STS action as libs/iam names it: `iam:CreateAccessKey`. */
const AWS_OPERATION = /^(iam|sts):[A-Z][A-Za-z]{1,63}$/;

const oneOf = (allowed: ReadonlySet<string>, value: string | null | undefined): string =>
  value != null && allowed.has(value) ? value : OTHER;
// Own keys only: `toString in ERRORS` is true through the prototype.
const errorCode = (code: string | null | undefined): string => (code == null ? NO_CODE : Object.hasOwn(ERRORS, code) ? code : OTHER);
const SECRET_TYPE_SET: ReadonlySet<string> = new Set<string>(SECRET_TYPES);
/** IAM access key statuses (keyturn_discovered_keys' status label). */
const KEY_STATUSES: ReadonlySet<string> = new Set(['Active', 'Inactive']);

/** The cluster-wide numbers read at scrape time (the scheduler registers a source; see registerClusterGauges). */
export interface ClusterStats {
  queueJobs(): Promise<{ queue: string; state: QueueJobState; count: number }[]>;
  secrets(): Promise<{ type: string; heartbeatStatus: string; count: number }[]>;
  /** Seconds since the oldest current access key was made; null without any. */
  oldestKeyAgeSeconds(): Promise<number | null>;
  /** Webhook deliveries not yet delivered nor given up. */
  webhookBacklog(): Promise<number>;
  /** Seconds the oldest due, not yet enqueued heartbeat has been waiting; 0 when none is due. */
  schedulerLagSeconds(): Promise<number>;
  /** The access keys the latest succeeded discovery run found, by managed and key status; [] before any run. */
  discoveredKeys(): Promise<{ managed: boolean; status: string; count: number }[]>;
  /** Seconds since the oldest unmanaged key of the latest succeeded discovery run was made; null without one. */
  oldestUnmanagedKeyAgeSeconds(): Promise<number | null>;
}

/**
 * The Prometheus registry of one process: Node's default metrics and every
 * Keyturn metric (metric-names.ts). Recording methods take only bounded enum
 * values: anything else is counted under `other`, so no id can become a label.
 */
export class KeyturnMetrics {
  readonly registry = new Registry();
  private readonly http: Histogram<'method' | 'route' | 'status'>;
  private readonly rotations: Counter<'type' | 'mode' | 'outcome' | 'code'>;
  private readonly rotationDuration: Histogram<'type' | 'mode'>;
  private readonly heartbeats: Counter<'outcome'>;
  private readonly awsCalls: Counter<'operation' | 'outcome'>;
  private readonly pacerWait: Histogram;
  private readonly webhookDeliveries: Counter<'outcome'>;
  private clusterRegistered = false;

  constructor(opts: { app: string; defaultMetrics?: boolean }) {
    this.registry.setDefaultLabels({ app: opts.app });
    if (opts.defaultMetrics !== false) collectDefaultMetrics({ register: this.registry });
    const registers = [this.registry];
    this.http = new Histogram({
      name: METRIC.httpRequestDuration,
      help: 'HTTP requests by method, route template and status code',
      labelNames: ['method', 'route', 'status'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    });
    this.rotations = new Counter({
      name: METRIC.rotations,
      help: 'Finished rotations by secret type, mode, outcome (succeeded, failed) and error code (none when succeeded)',
      labelNames: ['type', 'mode', 'outcome', 'code'],
      registers,
    });
    this.rotationDuration = new Histogram({
      name: METRIC.rotationDuration,
      help: 'Time from a rotation starting to run until it finished',
      labelNames: ['type', 'mode'],
      buckets: [1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800],
      registers,
    });
    this.heartbeats = new Counter({ name: METRIC.heartbeats, help: 'Finished heartbeats by outcome', labelNames: ['outcome'], registers });
    this.awsCalls = new Counter({
      name: METRIC.awsCalls,
      help: 'IAM and STS calls by action and outcome (success, or the error code the call failed with)',
      labelNames: ['operation', 'outcome'],
      registers,
    });
    this.pacerWait = new Histogram({
      name: METRIC.awsPacerWait,
      help: "Time an AWS call waited for its account's turn (KEYTURN_AWS_RATE_PER_ACCOUNT)",
      buckets: [0, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    });
    this.webhookDeliveries = new Counter({
      name: METRIC.webhookDeliveries,
      help: 'Webhook delivery attempts by outcome (delivered, retry, gave-up)',
      labelNames: ['outcome'],
      registers,
    });
  }

  /** `route` is the route template (/v1/secrets/:id), never the URL; unmatched requests are counted as `other`. */
  httpRequest(method: string, route: string | undefined, status: number, seconds: number): void {
    const r = route && route.length <= 128 && /^\/[\w\-/:.{}*]*$/.test(route) ? route : OTHER;
    this.http.observe({ method: oneOf(HTTP_METHODS, method), route: r, status: String(status) }, seconds);
  }

  rotationFinished(r: { type: string; mode: string | null; outcome: 'succeeded' | 'failed'; code?: string | null; seconds?: number }): void {
    const type = oneOf(SECRET_TYPE_SET, r.type);
    const mode = r.mode == null ? NO_CODE : oneOf(ROTATION_MODES, r.mode);
    this.rotations.inc({ type, mode, outcome: r.outcome, code: r.outcome === 'succeeded' ? NO_CODE : errorCode(r.code) });
    if (r.seconds !== undefined && r.seconds >= 0) this.rotationDuration.observe({ type, mode }, r.seconds);
  }

  heartbeatFinished(outcome: string): void {
    this.heartbeats.inc({ outcome: oneOf(HEARTBEAT_OUTCOMES, outcome) });
  }

  /** `outcome`: success, or the error code (catalogue) the call failed with. */
  awsCall(operation: string, outcome: string): void {
    this.awsCalls.inc({ operation: AWS_OPERATION.test(operation) ? operation : OTHER, outcome: outcome === 'success' ? outcome : errorCode(outcome) });
  }

  pacerWaited(seconds: number): void {
    this.pacerWait.observe(Math.max(0, seconds));
  }

  webhookDelivery(outcome: 'delivered' | 'retry' | 'gave-up'): void {
    this.webhookDeliveries.inc({ outcome: oneOf(WEBHOOK_OUTCOMES, outcome) });
  }

  /**
   * Gauges computed at scrape time from Postgres and Redis. One process
   * registers them (the scheduler), so a sum over processes counts each once.
   * A source that fails leaves the gauge without samples for that scrape.
   */
  registerClusterGauges(stats: ClusterStats): void {
    if (this.clusterRegistered) throw new Error('cluster gauges are registered already');
    this.clusterRegistered = true;
    const registers = [this.registry];
    new Gauge({
      name: METRIC.queueJobs,
      help: 'Jobs in each BullMQ queue by state (waiting, active, delayed, failed)',
      labelNames: ['queue', 'state'],
      registers,
      async collect() {
        await guarded(this, SCRAPE_TIMEOUT_MS, async () => {
          const rows = await stats.queueJobs();
          this.reset();
          const queues = new Set<string>(Object.values(QueueName));
          for (const row of rows) {
            if (queues.has(row.queue) && (QUEUE_JOB_STATES as readonly string[]).includes(row.state)) this.set({ queue: row.queue, state: row.state }, row.count);
          }
        });
      },
    });
    new Gauge({
      name: METRIC.secrets,
      help: 'Stored secrets by type and heartbeat status',
      labelNames: ['type', 'heartbeat_status'],
      registers,
      async collect() {
        await guarded(this, SCRAPE_TIMEOUT_MS, async () => {
          const rows = await stats.secrets();
          this.reset();
          for (const row of rows) {
            this.inc({ type: oneOf(SECRET_TYPE_SET, row.type), heartbeat_status: oneOf(HEARTBEAT_OUTCOMES, row.heartbeatStatus) }, row.count);
          }
        });
      },
    });
    new Gauge({
      name: METRIC.oldestKeyAge,
      help: 'Age of the oldest current access key (aws-iam-key secrets)',
      registers,
      async collect() {
        await guarded(this, SCRAPE_TIMEOUT_MS, async () => {
          // No access key stored: NaN, as for an unknown value (0 would read as "a key made just now").
          this.set((await stats.oldestKeyAgeSeconds()) ?? Number.NaN);
        });
      },
    });
    new Gauge({
      name: METRIC.webhookBacklog,
      help: 'Webhook deliveries waiting to be delivered (pending)',
      registers,
      async collect() {
        await guarded(this, SCRAPE_TIMEOUT_MS, async () => this.set(await stats.webhookBacklog()));
      },
    });
    new Gauge({
      name: METRIC.schedulerLag,
      help: 'How long the oldest due heartbeat has waited to be enqueued (0 when none is due)',
      registers,
      async collect() {
        await guarded(this, SCRAPE_TIMEOUT_MS, async () => this.set(await stats.schedulerLagSeconds()));
      },
    });
    new Gauge({
      name: METRIC.discoveredKeys,
      help: 'Access keys the latest succeeded discovery run found, by whether a Keyturn secret manages them and key status',
      labelNames: ['managed', 'status'],
      registers,
      async collect() {
        await guarded(this, SCRAPE_TIMEOUT_MS, async () => {
          const rows = await stats.discoveredKeys();
          this.reset();
          for (const row of rows) this.inc({ managed: String(row.managed), status: oneOf(KEY_STATUSES, row.status) }, row.count);
        });
      },
    });
    new Gauge({
      name: METRIC.oldestUnmanagedKeyAge,
      help: 'Age of the oldest access key no Keyturn secret manages, as the latest succeeded discovery run found it',
      registers,
      async collect() {
        await guarded(this, SCRAPE_TIMEOUT_MS, async () => {
          // No unmanaged key (or no run yet): NaN, as for an unknown value.
          this.set((await stats.oldestUnmanagedKeyAgeSeconds()) ?? Number.NaN);
        });
      },
    });
  }

  /** The exposition text and its content type, for a /metrics endpoint. */
  async exposition(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}

/**
 * A scrape-time source that fails or hangs (Postgres or Redis down) leaves its
 * gauge without samples (NaN for a gauge without labels) for that scrape,
 * instead of failing the whole /metrics.
 */
async function guarded(gauge: Gauge<string>, timeoutMs: number, fill: () => Promise<void>): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([fill(), new Promise<never>((_, rej) => (timer = setTimeout(() => rej(new Error('timeout')), timeoutMs)))]);
  } catch {
    gauge.reset();
    // A gauge without labels always has its one sample: NaN says "unknown" (no alert compares true on it).
    if (!(gauge as unknown as { labelNames: string[] }).labelNames.length) gauge.set(Number.NaN);
  } finally {
    clearTimeout(timer);
  }
}

let current: KeyturnMetrics | undefined;

/**
 * The process's registry. Code deep in a lib (the IAM adapter, the pacer, the
 * runner) records through it without a Nest provider; main.ts names the app
 * first with initMetrics, otherwise `keyturn` is used.
 */
export function metrics(): KeyturnMetrics {
  return (current ??= new KeyturnMetrics({ app: 'keyturn' }));
}

/** main.ts, before anything records: this process's registry, labelled with its app. */
export function initMetrics(app: string): KeyturnMetrics {
  current = new KeyturnMetrics({ app });
  return current;
}
