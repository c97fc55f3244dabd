import { ConfigError, type KeyturnConfig } from './config.js';

export type KeyturnProcess = 'secrets-api' | 'rotation-worker' | 'heartbeat-scheduler' | 'cli';

/** Pool sizes for processes whose need does not grow with a setting; a bigger pool serves bursts of requests. */
const DEFAULT_SIZE: Record<KeyturnProcess, number> = {
  'secrets-api': 10,
  'rotation-worker': 0,
  'heartbeat-scheduler': 4,
  'cli': 2,
};

/**
 * The fewest connections the process can work with. No Keyturn code holds one
 * pooled connection while it waits for another (locks are lease rows, not
 * session locks), so a pool this size never deadlocks; below it, jobs wait on
 * each other for connections until KEYTURN_DB_CONNECT_TIMEOUT_MS fails them.
 */
export function dbPoolNeed(config: KeyturnConfig, proc: KeyturnProcess): { connections: number; why: string } {
  if (proc === 'rotation-worker') {
    const c = config.rotation.concurrency;
    return {
      connections: 2 * c + 2,
      why: `KEYTURN_WORKER_CONCURRENCY=${c}: ${c} rotations and ${c} heartbeats at once, plus 2 for lease renewals and health checks`,
    };
  }
  if (proc === 'cli') return { connections: 1, why: 'one command at a time' };
  // A request or a scheduler step, plus a lease renewal or readiness check beside it.
  return { connections: 2, why: 'one unit of work and one lease renewal or readiness check beside it' };
}

/**
 * The pool size of this process: KEYTURN_DB_POOL_SIZE when set, else what the
 * process needs (at least its default). An explicit size below the need could
 * only stall work, so it is refused at start.
 */
export function dbPoolSize(config: KeyturnConfig, proc: KeyturnProcess): number {
  const need = dbPoolNeed(config, proc);
  const explicit = config.database.poolSize;
  if (explicit === undefined) return Math.max(need.connections, DEFAULT_SIZE[proc]);
  if (explicit < need.connections) {
    const extra = proc === 'rotation-worker' ? ', lower KEYTURN_WORKER_CONCURRENCY' : '';
    throw new ConfigError([
      `KEYTURN_DB_POOL_SIZE: ${explicit} is below the ${need.connections} connections ${proc} needs (${need.why}); ` +
        `set it to at least ${need.connections}${extra}, or leave it unset to size the pool automatically`,
    ]);
  }
  return explicit;
}
