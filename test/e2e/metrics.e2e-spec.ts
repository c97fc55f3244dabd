import { createServer, connect, type Server, type Socket } from 'node:net';
import { SecretType } from '@keyturn/contracts';
import { requiredPermissions } from '@keyturn/secrets';
import { AwsFixture } from './aws-fixture.js';
import { Processes, WORKER_ENV, vaultOps } from './vault-ops.js';
import { PG_ADMIN_URL, client, createTestEnv, eventually, freePort, type Client, type SpawnedApp, type TestEnv } from './harness.js';

/**
 * Postgres as this suite's processes see it: a TCP relay to the machine's
 * shared Postgres that the test can stop (the shared server never is).
 * Stopped, it refuses new connections and cuts the open ones, as a Postgres
 * that went away does.
 */
class StoppablePostgres {
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();

  private constructor(private readonly target: URL) {}

  static async start(): Promise<StoppablePostgres> {
    const relay = new StoppablePostgres(new URL(PG_ADMIN_URL));
    relay.server = createServer((inbound) => {
      const outbound = connect(Number(relay.target.port || 5432), relay.target.hostname);
      for (const [a, b] of [[inbound, outbound], [outbound, inbound]] as const) {
        relay.sockets.add(a);
        a.on('error', () => b.destroy());
        a.on('close', () => (relay.sockets.delete(a), b.destroy()));
        a.pipe(b);
      }
    });
    await new Promise<void>((resolve, reject) => relay.server!.once('error', reject).listen(0, '127.0.0.1', resolve));
    return relay;
  }

  /** The database URL through the relay. */
  url(databaseUrl: string): string {
    const u = new URL(databaseUrl);
    const addr = this.server!.address();
    u.hostname = '127.0.0.1';
    u.port = String(typeof addr === 'object' && addr ? addr.port : 0);
    return u.toString();
  }

  async stop(): Promise<void> {
    const server = this.server;
    if (!server?.listening) return;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    for (const s of this.sockets) s.destroy();
    await closed;
  }
}

/** The ops listener's base URL, from the line each app logs before its ready line. */
function opsUrl(app: SpawnedApp): string {
  const m = /ops endpoints: (http:\/\/[^\s"]+)\/health\/live/.exec(app.output());
  if (!m) throw new Error(`no ops endpoints line in:\n${app.output()}`);
  return m[1]!;
}

/** The value of the one sample of `metric` whose labels include every pair of `labels`. */
function sample(text: string, metric: string, labels: Record<string, string>): number | undefined {
  for (const line of text.split('\n')) {
    const m = /^([a-z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== metric) continue;
    const have = Object.fromEntries([...(m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((l) => [l[1], l[2]]));
    if (Object.entries(labels).every(([k, v]) => have[k] === v)) return Number(m[3]);
  }
  return undefined;
}

/** Every label value of every sample in an exposition text. */
function labelValues(text: string): string[] {
  return text
    .split('\n')
    .filter((l) => l && !l.startsWith('#'))
    .flatMap((l) => [...(/\{(.*)\}/.exec(l)?.[1] ?? '').matchAll(/\w+="((?:[^"\\]|\\.)*)"/g)].map((m) => m[1]!));
}

describe('metrics and health of every process', () => {
  let aws: AwsFixture;
  let t: TestEnv;
  let pgRelay: StoppablePostgres;
  let apiUrl: string;
  let admin: Client;
  const urls: Record<'api' | 'worker' | 'scheduler', string> = { api: '', worker: '', scheduler: '' };
  const procs = new Processes(() => ({ ...t.env, ...aws.env, ...WORKER_ENV, DATABASE_URL: pgRelay.url(t.databaseUrl), KEYTURN_SCHEDULER_TICK_MS: '500' }));
  const { keySecret, rotate, finished, value } = vaultOps(() => admin, () => aws.accountId);

  beforeAll(async () => {
    aws = await AwsFixture.start();
    pgRelay = await StoppablePostgres.start();
    t = await createTestEnv();
    const port = await freePort();
    await procs.start('secrets-api', { PORT: String(port) });
    apiUrl = `http://127.0.0.1:${port}`;
    admin = client(apiUrl, t.adminToken);
    urls.api = apiUrl;
    urls.worker = opsUrl(await procs.start('rotation-worker'));
    urls.scheduler = opsUrl(await procs.start('heartbeat-scheduler'));
  });
  afterAll(async () => {
    await procs.stopAll();
    await pgRelay?.stop();
    await t?.drop();
    await aws?.close();
  });

  const scrape = async (base: string) => {
    const res = await fetch(`${base}/metrics`);
    expect([res.status, res.headers.get('content-type')]).toEqual([200, expect.stringMatching(/^text\/plain; version=0\.0\.4/)]);
    return res.text();
  };

  it('counts a rotation, a heartbeat and their AWS calls on the worker; the API and the scheduler answer with theirs; no label names a secret', async () => {
    const name = aws.uniqueName('metrics');
    const user = await aws.user(name, requiredPermissions({ type: SecretType.AwsIamKey, partition: 'aws', accountId: aws.accountId, targetUser: name, executorUser: name }).policy);
    const secretId = await keySecret(name, user);
    const rotationId = await rotate(secretId);
    expect(await finished(rotationId)).toMatchObject({ status: 'succeeded' });
    const newKeyId = (await value(secretId)).accessKeyId!;
    const hb = await admin.post(`/v1/secrets/${secretId}/heartbeats`);
    expect(hb.status).toBe(202);
    await eventually(async () => (await admin.get(`/v1/heartbeats/${hb.body.id}`)).body.status === 'done');

    // A rotation is counted before its outcome commits; a heartbeat just after, so its count may trail the API's answer.
    const worker = await eventually(async () => {
      const text = await scrape(urls.worker);
      return (sample(text, 'keyturn_heartbeats_total', { outcome: 'success' }) ?? 0) >= 1 ? text : null;
    });
    expect(sample(worker, 'keyturn_rotations_total', { type: 'aws-iam-key', outcome: 'succeeded', code: 'none' })).toBe(1);
    expect(sample(worker, 'keyturn_rotation_duration_seconds_count', { type: 'aws-iam-key' })).toBe(1);
    expect(sample(worker, 'keyturn_heartbeats_total', { outcome: 'success' })).toBeGreaterThanOrEqual(1);
    expect(sample(worker, 'keyturn_aws_calls_total', { operation: 'iam:CreateAccessKey', outcome: 'success' })).toBe(1);
    expect(sample(worker, 'keyturn_aws_calls_total', { operation: 'sts:GetCallerIdentity', outcome: 'success' })).toBeGreaterThanOrEqual(1);
    expect(sample(worker, 'keyturn_aws_pacer_wait_seconds_count', {})).toBeGreaterThanOrEqual(1);
    // Node's default metrics come along.
    expect(worker).toMatch(/^process_cpu_user_seconds_total/m);

    // The API counts a request once its answer is sent (onResponse).
    const api = await eventually(async () => {
      const text = await scrape(urls.api);
      return sample(text, 'keyturn_http_request_duration_seconds_count', { method: 'POST', route: '/v1/secrets/:id/heartbeats', status: '202' }) === 1 ? text : null;
    });
    expect(sample(api, 'keyturn_http_request_duration_seconds_count', { method: 'POST', route: '/v1/secrets/:id/rotations', status: '202' })).toBe(1);
    expect(sample(api, 'keyturn_http_request_duration_seconds_count', { method: 'POST', route: '/v1/secrets', status: '201' })).toBe(1);

    const scheduler = await scrape(urls.scheduler);
    expect(sample(scheduler, 'keyturn_secrets', { type: 'aws-iam-key', heartbeat_status: 'success' })).toBe(1);
    expect(sample(scheduler, 'keyturn_queue_jobs', { queue: 'rotation', state: 'waiting' })).toBe(0);
    expect(sample(scheduler, 'keyturn_queue_jobs', { queue: 'heartbeat', state: 'failed' })).toBe(0);
    expect(sample(scheduler, 'keyturn_webhook_backlog', {})).toBe(0);
    expect(sample(scheduler, 'keyturn_oldest_key_age_seconds', {})).toBeGreaterThanOrEqual(0);
    expect(sample(scheduler, 'keyturn_scheduler_lag_seconds', {})).toBeGreaterThanOrEqual(0);

    // Nothing that identifies a secret, a user or a key, in a label or anywhere else in the text.
    const all = [worker, api, scheduler].join('\n');
    const identifying = [secretId, rotationId, hb.body.id, name, user.accessKeyId, newKeyId, user.secretAccessKey, aws.accountId];
    expect(identifying.filter((s) => all.includes(s))).toEqual([]);
    expect(labelValues(all).filter((v) => identifying.some((s) => v.includes(s)))).toEqual([]);
  });

  it('all three answer /health/ready with 200, and 503 naming Postgres once it is unreachable', async () => {
    for (const base of Object.values(urls)) {
      const ready = await fetch(`${base}/health/ready`);
      expect([base, ready.status]).toEqual([base, 200]);
      expect((await fetch(`${base}/health/live`)).status).toBe(200);
    }
    expect(await (await fetch(`${urls.worker}/health/ready`)).json()).toEqual({ status: 'ok', checks: { postgres: 'ok', redis: 'ok', workers: 'ok' } });
    expect(await (await fetch(`${urls.scheduler}/health/ready`)).json()).toEqual({ status: 'ok', checks: { postgres: 'ok', redis: 'ok' } });

    await pgRelay.stop();
    for (const [app, base] of Object.entries(urls)) {
      const down = await eventually(async () => {
        const r = await fetch(`${base}/health/ready`);
        return r.status === 503 ? ((await r.json()) as { status: string; checks: Record<string, string> }) : null;
      });
      expect([app, down.status, down.checks.postgres, down.checks.redis]).toEqual([app, 'unavailable', 'down', 'ok']);
      // Alive all the same: an orchestrator must not restart a process for its database's outage.
      expect((await fetch(`${base}/health/live`)).status).toBe(200);
    }
    // /metrics still answers without Postgres; the gauges read from it are left out of that scrape.
    const scheduler = await scrape(urls.scheduler);
    expect(sample(scheduler, 'keyturn_secrets', { type: 'aws-iam-key', heartbeat_status: 'success' })).toBeUndefined();
  });
});
