import { z } from 'zod';
import { Cron } from 'croner';
import { isIamPath } from '@keyturn/contracts';

/** Exactly five fields (croner also takes seconds and years; KEYTURN_DISCOVERY_SCHEDULE is classic cron), and croner can read them. */
export function isFiveFieldCron(v: string): boolean {
  if (v.trim().split(/\s+/).length !== 5) return false;
  try {
    new Cron(v.trim(), { paused: true, timezone: 'UTC' }).stop();
    return true;
  } catch {
    return false;
  }
}

/**
 * The HMAC key of a `whsec_<base64>` secret, or undefined when the value is not in
 * that form. The Standard Webhooks specification asks for 24 to 64 random bytes.
 */
export function webhookSigningKey(secret: string): Buffer | undefined {
  const m = /^whsec_([A-Za-z0-9+/]+={0,2})$/.exec(secret);
  if (!m || m[1]!.length % 4 !== 0) return undefined;
  const key = Buffer.from(m[1]!, 'base64');
  return key.length >= 24 && key.length <= 64 ? key : undefined;
}

const bool = z
  .enum(['true', 'false', '1', '0', 'yes', 'no'])
  .transform((v) => v === 'true' || v === '1' || v === 'yes');

const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);

function isUrlOf(v: string, protocols: string[]): boolean {
  try {
    return protocols.includes(new URL(v).protocol);
  } catch {
    return false;
  }
}

/** "a, b ,," → ["a", "b"] */
export const splitList = (v: string): string[] => v.split(',').map((s) => s.trim()).filter(Boolean);

const url = (protocols: string[]) =>
  z.string().refine((v) => isUrlOf(v, protocols), { message: `must be a URL starting with ${protocols.map((p) => p + '//').join(' or ')}` });

/**
 * Every environment variable Keyturn reads. Sensitive ones are listed in
 * SENSITIVE_ENV so that error messages and logs never print their values.
 */
export const envSchema = z.object({
  NODE_ENV: z.enum(['development', 'test', 'production']).default('development'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),

  DATABASE_URL: url(['postgres:', 'postgresql:']).default('postgres://postgres@127.0.0.1:5432/keyturn'),
  /** Apply pending migrations at start; defaults to on outside production. */
  KEYTURN_MIGRATIONS_RUN: bool.optional(),
  /** Create the database named in DATABASE_URL if it does not exist (outside production by default). */
  KEYTURN_CREATE_DATABASE: bool.optional(),
  /** Postgres connections per process; by default sized from the process's own concurrency (see pool.ts). */
  KEYTURN_DB_POOL_SIZE: int(2, 10_000).optional(),
  /** How long a query may wait for a pooled (or new) connection before it fails instead of hanging. */
  KEYTURN_DB_CONNECT_TIMEOUT_MS: int(100, 600_000).default(10_000),
  /**
   * `transaction` when DATABASE_URL goes through a transaction-mode pooler
   * (PgBouncer pool_mode=transaction, RDS Proxy): the pool is then not checked
   * against Postgres's max_connections, which the pooler multiplexes.
   */
  KEYTURN_DB_POOLER: z.enum(['none', 'transaction']).default('none'),

  /** A single Redis node (the default); not together with KEYTURN_REDIS_CLUSTER_NODES. */
  REDIS_URL: url(['redis:', 'rediss:']).optional(),
  /** Comma-separated redis:// or rediss:// URLs of Redis Cluster seed nodes (credentials in the URLs). */
  KEYTURN_REDIS_CLUSTER_NODES: z
    .string()
    .refine((v) => splitList(v).length > 0 && splitList(v).every((u) => isUrlOf(u, ['redis:', 'rediss:'])), {
      message: 'must be a comma-separated list of redis:// or rediss:// URLs',
    })
    .optional(),
  /** Prefix of every Redis key; on a cluster it must hold a hash tag (default there: {keyturn}). */
  KEYTURN_QUEUE_PREFIX: z
    .string()
    .regex(/^[\w{}:.-]{1,64}$/, 'must be 1-64 of letters, digits, _ { } : . -')
    .optional(),

  KEYTURN_MASTER_KEY: z.string().min(1).optional(),
  KEYTURN_PREVIOUS_MASTER_KEYS: z.string().optional(),
  KEYTURN_MASTER_KEY_FILE: z.string().min(1).default('.keyturn/master.key'),

  HOST: z.string().min(1).default('127.0.0.1'),
  PORT: int(0, 65535).default(8080),
  KEYTURN_BOOTSTRAP_ADMIN_TOKEN: z.string().min(32, 'must be at least 32 characters').optional(),
  KEYTURN_TRUST_PROXY: bool.default(false),
  /** The worker's ops listener (/health/live, /health/ready, /metrics), bound to HOST; 0 picks a free port. */
  WORKER_OPS_PORT: int(0, 65535).default(8081),
  /** The scheduler's ops listener, as WORKER_OPS_PORT. */
  SCHEDULER_OPS_PORT: int(0, 65535).default(8082),

  AWS_REGION: z.string().regex(/^[a-z]{2}(-[a-z]+)+-\d$/, 'must look like us-east-1').default('us-east-1'),
  KEYTURN_AWS_MAX_ATTEMPTS: int(1, 20).default(5),
  KEYTURN_AWS_TIMEOUT_MS: int(100, 120_000).default(15_000),
  /** IAM calls per second per AWS account, shared by every worker (IAM throttles per account). */
  KEYTURN_AWS_RATE_PER_ACCOUNT: z.coerce.number().positive().max(1000).default(10),
  /**
   * Keys whose SDK clients a process keeps (least recently used out). A key outside it costs a new client per
   * call (≈0.3–0.6 ms of CPU); a client pair is ≈45–60 KB of heap.
   */
  KEYTURN_AWS_CLIENT_CACHE: int(1, 100_000).default(1024),

  KEYTURN_WORKER_CONCURRENCY: int(1, 256).default(4),
  /** How long a new key may take to start working (IAM is eventually consistent). */
  KEYTURN_VERIFY_WINDOW_MS: int(1_000, 600_000).default(60_000),
  KEYTURN_VERIFY_INITIAL_DELAY_MS: int(0, 60_000).default(500),
  /** A worker holds a rotation for this long; after it, the reconciler may hand it to another. */
  KEYTURN_LEASE_MS: int(5_000, 3_600_000).default(120_000),
  KEYTURN_JOB_ATTEMPTS: int(1, 100).default(5),
  /** SIGTERM: how long running work may take to finish before the process exits anyway. */
  KEYTURN_SHUTDOWN_TIMEOUT_MS: int(0, 3_600_000).default(30_000),

  /** Comma-separated URLs that receive signed event webhooks. */
  KEYTURN_WEBHOOK_URLS: z
    .string()
    .refine((v) => v.split(',').map((s) => s.trim()).filter(Boolean).every((u) => /^https?:\/\//.test(u) && URL.canParse(u)), {
      message: 'must be a comma-separated list of http(s) URLs',
    })
    .optional(),
  /**
   * The Standard Webhooks signing secret, `whsec_<base64>`: the HMAC-SHA256 key is the
   * decoded bytes, as every Standard Webhooks verifier expects. Required with KEYTURN_WEBHOOK_URLS.
   */
  KEYTURN_WEBHOOK_SECRET: z
    .string()
    .refine((v) => webhookSigningKey(v) !== undefined, {
      message: 'must be whsec_ followed by the base64 of 24 to 64 random bytes (Standard Webhooks form), for example whsec_$(openssl rand -base64 32)',
    })
    .optional(),
  KEYTURN_WEBHOOK_MAX_ATTEMPTS: int(1, 50).default(10),
  /** A 5-field cron expression (UTC): the scheduler starts one discovery run per fire time. Off when unset. */
  KEYTURN_DISCOVERY_SCHEDULE: z
    .string()
    .refine(isFiveFieldCron, { message: 'must be a 5-field cron expression (minute hour day-of-month month day-of-week), for example 0 3 * * *' })
    .optional(),
  /** The aws-iam-key secret scheduled discovery runs use; required with KEYTURN_DISCOVERY_SCHEDULE. */
  KEYTURN_DISCOVERY_EXECUTOR_SECRET_ID: z.string().uuid({ message: 'must be the id (a UUID) of an aws-iam-key secret' }).optional(),
  /** Scheduled runs list only users under this IAM path. */
  KEYTURN_DISCOVERY_PATH_PREFIX: z.string().refine(isIamPath, { message: 'must be an IAM path: 1-512 characters from "!" to "~" that start and end with "/"' }).default('/'),
  /** How long a queued rotation or heartbeat may sit without progress before the reconciler re-enqueues it. */
  KEYTURN_RECONCILE_AFTER_MS: int(1_000, 3_600_000).default(30_000),
  KEYTURN_HEARTBEAT_INTERVAL_SECONDS: int(10, 30 * 86_400).default(3_600),
  KEYTURN_SCHEDULER_TICK_MS: int(100, 600_000).default(5_000),
  KEYTURN_SCHEDULER_BATCH: int(1, 100_000).default(1_000),
  /**
   * The scheduler enqueues due heartbeats only while fewer than this many wait in the heartbeat queue: after
   * downtime the backlog stays in Postgres (oldest first) and Redis holds a bounded part of it.
   */
  KEYTURN_SCHEDULER_MAX_QUEUED_HEARTBEATS: int(1, 10_000_000).default(100_000),
});

export type Env = z.infer<typeof envSchema>;

export const SENSITIVE_ENV: ReadonlySet<keyof Env> = new Set([
  'KEYTURN_MASTER_KEY',
  'KEYTURN_PREVIOUS_MASTER_KEYS',
  'KEYTURN_BOOTSTRAP_ADMIN_TOKEN',
  'KEYTURN_WEBHOOK_SECRET',
]);
