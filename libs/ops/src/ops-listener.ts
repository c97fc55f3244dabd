import { fastify, type FastifyInstance } from 'fastify';
import { listenStartupError } from '@keyturn/config';
import type { KeyturnMetrics } from '@keyturn/metrics';

/** One readiness check: resolves when the dependency can serve, rejects with the reason otherwise. */
export type ReadinessCheck = () => Promise<unknown>;

export interface OpsListenerOptions {
  host: string;
  port: number;
  /** The setting that names the port (WORKER_OPS_PORT, SCHEDULER_OPS_PORT), for the "port taken" message. */
  portSetting: string;
  metrics: KeyturnMetrics;
  /** Each check named as /health/ready reports it (postgres, redis, workers). */
  checks: Record<string, ReadinessCheck>;
  /** Where a failed check's reason goes (it may name hosts: it is not sent to the caller). */
  warn: (message: string) => void;
  checkTimeoutMs?: number;
}

export interface OpsListener {
  /** http://host:port as bound (port 0 becomes the port the system chose). */
  readonly url: string;
  /** The paths it serves, for the ready banner. */
  readonly paths: readonly string[];
  /** From SIGTERM on, /health/ready answers 503 so a load balancer or orchestrator stops counting on this process. */
  draining(): void;
  close(): Promise<void>;
}

export const OPS_PATHS = ['/health/live', '/health/ready', '/metrics'] as const;

const within = <T>(p: Promise<T>, ms: number): Promise<T> =>
  Promise.race([p, new Promise<never>((_, rej) => setTimeout(() => rej(new Error(`no answer within ${ms} ms`)), ms).unref())]);

/**
 * The worker's and the scheduler's HTTP listener for operators: liveness,
 * readiness (the same answer shape as the API's /health/ready) and Prometheus
 * metrics. A small Fastify instance: the API's framework, without Nest, since
 * three fixed GET routes need no modules, guards or OpenAPI. Nothing it
 * answers names a secret, a host or a user.
 */
export async function startOpsListener(opts: OpsListenerOptions): Promise<OpsListener> {
  const server: FastifyInstance = fastify({ logger: false, return503OnClosing: true });
  let draining = false;
  const timeoutMs = opts.checkTimeoutMs ?? 2_000;

  server.get('/health/live', async () => ({ status: 'ok' }));
  server.get('/health/ready', async (_req, reply) => {
    const names = Object.keys(opts.checks);
    const results = await Promise.all(
      names.map(async (name) => {
        try {
          await within(opts.checks[name]!(), timeoutMs);
          return 'ok';
        } catch (e) {
          opts.warn(`readiness check ${name} failed: ${(e as Error).message}`);
          return 'down';
        }
      }),
    );
    const checks = Object.fromEntries(names.map((n, i) => [n, results[i]]));
    const ok = !draining && results.every((r) => r === 'ok');
    void reply.status(ok ? 200 : 503);
    return { status: ok ? 'ok' : draining ? 'draining' : 'unavailable', checks };
  });
  server.get('/metrics', async (_req, reply) => {
    const { contentType, body } = await opts.metrics.exposition();
    void reply.header('content-type', contentType);
    return body;
  });

  try {
    await server.listen({ host: opts.host, port: opts.port });
  } catch (e) {
    await server.close().catch(() => undefined);
    throw listenStartupError(e, opts.host, opts.port, opts.portSetting) ?? e;
  }
  const addr = server.server.address();
  const port = typeof addr === 'object' && addr ? addr.port : opts.port;
  const host = opts.host.includes(':') ? `[${opts.host}]` : opts.host;
  return {
    url: `http://${host}:${port}`,
    paths: OPS_PATHS,
    draining: () => void (draining = true),
    close: () => server.close(),
  };
}
