import { envSchema, splitList, webhookSigningKey, type Env } from './env.schema.js';

export interface KeyturnConfig {
  env: Env['NODE_ENV'];
  isProduction: boolean;
  logLevel: Env['LOG_LEVEL'];
  database: {
    url: string;
    migrationsRun: boolean;
    createDatabase: boolean;
    /** KEYTURN_DB_POOL_SIZE when set; otherwise each process sizes its pool from its own work (dbPoolSize). */
    poolSize?: number;
    connectTimeoutMs: number;
    /** 'transaction': DATABASE_URL goes through a transaction-mode pooler (PgBouncer, RDS Proxy). */
    pooler: Env['KEYTURN_DB_POOLER'];
  };
  redis: {
    /** The single node, used when clusterNodes is empty. */
    url: string;
    /** Prefix of every Keyturn key in Redis; on a cluster it holds a hash tag, so all of them share one slot. */
    prefix: string;
    /** Redis Cluster seed nodes (KEYTURN_REDIS_CLUSTER_NODES); empty for a single node. */
    clusterNodes: string[];
  };
  crypto: { masterKey?: string; previousMasterKeys: string[]; masterKeyFile: string };
  http: { host: string; port: number; trustProxy: boolean; bootstrapAdminToken?: string };
  /** The worker's and the scheduler's ops listeners (health and metrics), bound to http.host like the API. */
  ops: { workerPort: number; schedulerPort: number };
  aws: { region: string; maxAttempts: number; timeoutMs: number; ratePerAccount: number; clientCache: number };
  rotation: {
    concurrency: number;
    verifyWindowMs: number;
    verifyInitialDelayMs: number;
    leaseMs: number;
    jobAttempts: number;
  };
  heartbeat: { intervalSeconds: number; tickMs: number; batch: number; maxQueued: number; reconcileAfterMs: number };
  /** `signingKey` is the decoded HMAC key of KEYTURN_WEBHOOK_SECRET (`whsec_<base64>`). */
  webhooks: { urls: string[]; signingKey?: Buffer; maxAttempts: number };
  shutdown: { timeoutMs: number };
  /** KEYTURN_DISCOVERY_*: scheduled discovery runs (schedule unset: off). */
  discovery: { schedule?: string; executorSecretId?: string; pathPrefix: string };
}

/** Thrown at boot when the environment is invalid; the message names each variable, never its value. */
export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

export function loadConfig(source: NodeJS.ProcessEnv = process.env): KeyturnConfig {
  // Empty strings count as unset, so `FOO=` in a compose file means "default".
  const raw = Object.fromEntries(
    Object.keys(envSchema.shape)
      .map((k) => [k, source[k]])
      .filter(([, v]) => v !== undefined && v !== ''),
  );
  const parsed = envSchema.safeParse(raw);
  if (!parsed.success) {
    throw new ConfigError(
      parsed.error.issues.map((i) => `${i.path.join('.') || '(environment)'}: ${i.message}`),
    );
  }
  const e = parsed.data;
  const isProduction = e.NODE_ENV === 'production';
  const problems: string[] = [];
  if (isProduction && !e.KEYTURN_MASTER_KEY) {
    problems.push('KEYTURN_MASTER_KEY: required when NODE_ENV=production (generate one with `npm run cli -- master-key generate`)');
  }
  if (e.KEYTURN_DISCOVERY_SCHEDULE && !e.KEYTURN_DISCOVERY_EXECUTOR_SECRET_ID) {
    problems.push('KEYTURN_DISCOVERY_EXECUTOR_SECRET_ID: required when KEYTURN_DISCOVERY_SCHEDULE is set (the aws-iam-key secret scheduled runs scan with)');
  }
  if (e.KEYTURN_WEBHOOK_URLS && !e.KEYTURN_WEBHOOK_SECRET) {
    problems.push('KEYTURN_WEBHOOK_SECRET: required when KEYTURN_WEBHOOK_URLS is set (webhook bodies are signed with it)');
  }
  const clusterNodes = splitList(e.KEYTURN_REDIS_CLUSTER_NODES ?? '');
  // Every multi-key command and Lua script of BullMQ, the pacer and the fair-share index must stay in one
  // slot; the prefix's hash tag puts all of Keyturn's keys there.
  const prefix = e.KEYTURN_QUEUE_PREFIX ?? (clusterNodes.length ? '{keyturn}' : 'keyturn');
  if (clusterNodes.length && e.REDIS_URL) {
    problems.push('REDIS_URL and KEYTURN_REDIS_CLUSTER_NODES: set only one (REDIS_URL for a single Redis node, KEYTURN_REDIS_CLUSTER_NODES for a cluster)');
  }
  // ioredis' cluster client connects to every node it discovers with one set of options.
  const identity = (u: string) => {
    const x = new URL(u);
    return `${x.protocol}${x.username}:${x.password}`;
  };
  if (new Set(clusterNodes.map(identity)).size > 1) {
    problems.push('KEYTURN_REDIS_CLUSTER_NODES: give every seed node the same scheme (redis:// or rediss://), user and password; the cluster client uses one set for all nodes');
  }
  if (clusterNodes.length && hashTag(prefix) === null) {
    problems.push(
      'KEYTURN_QUEUE_PREFIX: on Redis Cluster the prefix needs a hash tag, a non-empty name in braces such as {keyturn}, ' +
        'so that each queue\'s keys share one hash slot; unset it to use {keyturn}',
    );
  }
  // npm start runs all three on one HOST: two of them on one port would stop the second with "port in use".
  const ports = (['PORT', 'WORKER_OPS_PORT', 'SCHEDULER_OPS_PORT'] as const).filter((k) => e[k] !== 0);
  for (const [i, a] of ports.entries()) {
    const b = ports.slice(i + 1).find((k) => e[k] === e[a]);
    if (b) problems.push(`${a} and ${b}: both are ${e[a]}; give each process its own port (0 lets the system pick one)`);
  }
  if (problems.length) throw new ConfigError(problems);

  return {
    env: e.NODE_ENV,
    isProduction,
    logLevel: e.LOG_LEVEL,
    database: {
      url: e.DATABASE_URL,
      migrationsRun: e.KEYTURN_MIGRATIONS_RUN ?? !isProduction,
      createDatabase: e.KEYTURN_CREATE_DATABASE ?? !isProduction,
      poolSize: e.KEYTURN_DB_POOL_SIZE,
      connectTimeoutMs: e.KEYTURN_DB_CONNECT_TIMEOUT_MS,
      pooler: e.KEYTURN_DB_POOLER,
    },
    redis: { url: e.REDIS_URL ?? 'redis://127.0.0.1:6379', prefix, clusterNodes },
    crypto: {
      masterKey: e.KEYTURN_MASTER_KEY,
      previousMasterKeys: (e.KEYTURN_PREVIOUS_MASTER_KEYS ?? '')
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean),
      masterKeyFile: e.KEYTURN_MASTER_KEY_FILE,
    },
    http: {
      host: e.HOST,
      port: e.PORT,
      trustProxy: e.KEYTURN_TRUST_PROXY,
      bootstrapAdminToken: e.KEYTURN_BOOTSTRAP_ADMIN_TOKEN,
    },
    ops: { workerPort: e.WORKER_OPS_PORT, schedulerPort: e.SCHEDULER_OPS_PORT },
    aws: {
      region: e.AWS_REGION,
      maxAttempts: e.KEYTURN_AWS_MAX_ATTEMPTS,
      timeoutMs: e.KEYTURN_AWS_TIMEOUT_MS,
      ratePerAccount: e.KEYTURN_AWS_RATE_PER_ACCOUNT,
      clientCache: e.KEYTURN_AWS_CLIENT_CACHE,
    },
    rotation: {
      concurrency: e.KEYTURN_WORKER_CONCURRENCY,
      verifyWindowMs: e.KEYTURN_VERIFY_WINDOW_MS,
      verifyInitialDelayMs: e.KEYTURN_VERIFY_INITIAL_DELAY_MS,
      leaseMs: e.KEYTURN_LEASE_MS,
      jobAttempts: e.KEYTURN_JOB_ATTEMPTS,
    },
    heartbeat: {
      intervalSeconds: e.KEYTURN_HEARTBEAT_INTERVAL_SECONDS,
      tickMs: e.KEYTURN_SCHEDULER_TICK_MS,
      batch: e.KEYTURN_SCHEDULER_BATCH,
      maxQueued: e.KEYTURN_SCHEDULER_MAX_QUEUED_HEARTBEATS,
      reconcileAfterMs: e.KEYTURN_RECONCILE_AFTER_MS,
    },
    webhooks: {
      urls: splitList(e.KEYTURN_WEBHOOK_URLS ?? ''),
      signingKey: e.KEYTURN_WEBHOOK_SECRET ? webhookSigningKey(e.KEYTURN_WEBHOOK_SECRET) : undefined,
      maxAttempts: e.KEYTURN_WEBHOOK_MAX_ATTEMPTS,
    },
    shutdown: { timeoutMs: e.KEYTURN_SHUTDOWN_TIMEOUT_MS },
    discovery: {
      schedule: e.KEYTURN_DISCOVERY_SCHEDULE?.trim(),
      executorSecretId: e.KEYTURN_DISCOVERY_EXECUTOR_SECRET_ID,
      pathPrefix: e.KEYTURN_DISCOVERY_PATH_PREFIX,
    },
  };
}

/**
 * The hash tag of a Redis key as Redis Cluster reads it: the text between the
 * first `{` and the next `}`, when that text is not empty; null otherwise
 * (then the whole key is hashed).
 */
export function hashTag(key: string): string | null {
  const open = key.indexOf('{');
  if (open < 0) return null;
  const close = key.indexOf('}', open + 1);
  return close > open + 1 ? key.slice(open + 1, close) : null;
}

/** A URL with its password replaced, for log lines. */
export function redactUrl(value: string): string {
  try {
    const u = new URL(value);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '(unparseable url)';
  }
}

/** For main.ts: a bad environment ends the process with the list of problems, before anything starts. */
export function loadConfigOrExit(source: NodeJS.ProcessEnv = process.env): KeyturnConfig {
  return orExit(() => loadConfig(source));
}

/** Runs a start-up check; a ConfigError ends the process with exit code 78 (EX_CONFIG) and its message. */
export function orExit<T>(check: () => T): T {
  try {
    return check();
  } catch (e) {
    if (e instanceof ConfigError) exitConfigError(e);
    throw e;
  }
}

/** orExit for asynchronous checks (those that ask Postgres, for instance). */
export async function orExitAsync<T>(check: () => Promise<T>): Promise<T> {
  try {
    return await check();
  } catch (e) {
    if (e instanceof ConfigError) exitConfigError(e);
    throw e;
  }
}

/** Ends the process the way every configuration problem does: the message on stderr, exit code 78 (EX_CONFIG). */
export function exitConfigError(e: ConfigError): never {
  process.stderr.write(`keyturn: ${e.message}\n`);
  process.exit(78);
}
