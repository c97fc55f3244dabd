import { createServer, type Server } from 'node:net';
import { STARTUP_EXIT, StartupError } from '@keyturn/config';
import { KeyturnMetrics } from '@keyturn/metrics';
import { startOpsListener, type OpsListener, type ReadinessCheck } from '@keyturn/ops';

describe('ops listener', () => {
  let ops: OpsListener | undefined;
  const warnings: string[] = [];
  const metrics = new KeyturnMetrics({ app: 'test', defaultMetrics: false });
  const start = (checks: Record<string, ReadinessCheck>, port = 0, checkTimeoutMs?: number) =>
    startOpsListener({ host: '127.0.0.1', port, portSetting: 'WORKER_OPS_PORT', metrics, checks, warn: (m) => warnings.push(m), checkTimeoutMs });
  afterEach(async () => {
    await ops?.close();
    ops = undefined;
    warnings.length = 0;
  });

  it('serves liveness, readiness with each check, and the metrics exposition', async () => {
    ops = await start({ postgres: async () => undefined, redis: async () => undefined });
    expect(ops.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(ops.paths).toEqual(['/health/live', '/health/ready', '/metrics']);
    const live = await fetch(`${ops.url}/health/live`);
    expect([live.status, await live.json()]).toEqual([200, { status: 'ok' }]);
    const ready = await fetch(`${ops.url}/health/ready`);
    expect([ready.status, await ready.json()]).toEqual([200, { status: 'ok', checks: { postgres: 'ok', redis: 'ok' } }]);
    metrics.heartbeatFinished('success');
    const scrape = await fetch(`${ops.url}/metrics`);
    expect(scrape.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    expect(await scrape.text()).toMatch(/^keyturn_heartbeats_total\{.*outcome="success".*\} 1$/m);
    expect((await fetch(`${ops.url}/v1/secrets`)).status).toBe(404);
  });

  it('answers 503 when a check fails or hangs, keeping the reason (it may name hosts) out of the answer', async () => {
    ops = await start(
      {
        postgres: async () => {
          throw new Error('connect ECONNREFUSED db.internal:5432');
        },
        redis: () => new Promise(() => undefined),
        workers: async () => undefined,
      },
      0,
      200,
    );
    const res = await fetch(`${ops.url}/health/ready`);
    const text = await res.text();
    expect([res.status, JSON.parse(text)]).toEqual([503, { status: 'unavailable', checks: { postgres: 'down', redis: 'down', workers: 'ok' } }]);
    expect(text).not.toContain('db.internal');
    expect(warnings).toEqual(expect.arrayContaining([expect.stringContaining('postgres failed: connect ECONNREFUSED db.internal:5432'), expect.stringContaining('no answer within 200 ms')]));
    expect((await fetch(`${ops.url}/health/live`)).status).toBe(200);
  });

  it('answers 503 "draining" from SIGTERM on, while staying alive', async () => {
    ops = await start({ postgres: async () => undefined });
    ops.draining();
    const res = await fetch(`${ops.url}/health/ready`);
    expect([res.status, await res.json()]).toEqual([503, { status: 'draining', checks: { postgres: 'ok' } }]);
    expect((await fetch(`${ops.url}/health/live`)).status).toBe(200);
  });

  it('a taken port is a StartupError naming the setting, with exit code 69', async () => {
    const holder: Server = createServer();
    await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve));
    const port = (holder.address() as { port: number }).port;
    try {
      const err = await start({}, port).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(StartupError);
      expect([(err as StartupError).exitCode, (err as StartupError).message]).toEqual([
        STARTUP_EXIT.UNAVAILABLE,
        `port ${port} on 127.0.0.1 (HOST, WORKER_OPS_PORT) is already in use. Stop the program that listens there, or set WORKER_OPS_PORT to a free port.`,
      ]);
    } finally {
      await new Promise((r) => holder.close(r));
    }
  });
});
