import { randomBytes } from 'node:crypto';
import type pg from 'pg';
import { SecretType } from '@keyturn/contracts';
import { requiredPermissions } from '@keyturn/secrets';
import { AwsFixture, type Creds } from './aws-fixture.js';
import { Processes, WORKER_ENV, vaultOps } from './vault-ops.js';
import { checkedFetch, client, createTestEnv, eventually, fakeKey, freePort, rawDb, type Client, type SpawnedApp, type TestEnv } from './harness.js';
import { LocalRedisCluster, slotOf, type ClusterNode } from './redis-cluster.js';

/**
 * Keyturn against a 3-node Redis Cluster of its own: the seed nodes it is given
 * do not serve the queue's slot, so a single-node client would only ever get
 * MOVED. Every Redis use (queues, workers, pacer, fair-share index, limiter,
 * readiness, reconciler) has to go through the cluster.
 */
describe('Redis Cluster: every Redis use goes through a cluster client', () => {
  let cluster: LocalRedisCluster;
  let owner: ClusterNode;
  let prefix: string;
  let aws: AwsFixture;
  let t: TestEnv;
  let db: pg.Client;
  let url: string;
  let admin: Client;
  let worker: SpawnedApp;
  let scheduler: SpawnedApp;
  const procs = new Processes(() => ({ ...t.env, ...aws.env, ...WORKER_ENV }));
  const ops = vaultOps(() => admin, () => aws.accountId);

  const policyFor = (name: string) =>
    requiredPermissions({ type: SecretType.AwsIamKey, partition: 'aws', accountId: aws.accountId, targetUser: name, executorUser: name }).policy;
  const keySecretFor = async (prefixName: string) => {
    const name = aws.uniqueName(prefixName);
    const key: Creds = await aws.user(name, policyFor(name));
    return { name, key, id: await ops.keySecret(name, key) };
  };
  const ready = async () => {
    const r = await checkedFetch(`${url}/health/ready`);
    return { status: r.status, body: (await r.json()) as { status: string; checks: Record<string, string> } };
  };

  beforeAll(async () => {
    cluster = await LocalRedisCluster.start(3);
    prefix = `{kt-e2e-${randomBytes(4).toString('hex')}}`;
    owner = await cluster.ownerOf(slotOf(prefix));
    const seeds = cluster.nodes.filter((n) => n !== owner);
    aws = await AwsFixture.start();
    t = await createTestEnv({
      REDIS_URL: '',
      KEYTURN_REDIS_CLUSTER_NODES: cluster.urls(seeds).join(','),
      KEYTURN_QUEUE_PREFIX: prefix,
      KEYTURN_RECONCILE_AFTER_MS: '1000',
      KEYTURN_SCHEDULER_TICK_MS: '500',
      KEYTURN_TRUST_PROXY: 'true',
    });
    db = await rawDb(t);
    const port = await freePort();
    await procs.start('secrets-api', { PORT: String(port) });
    url = `http://127.0.0.1:${port}`;
    admin = client(url, t.adminToken);
    worker = await procs.start('rotation-worker');
    scheduler = await procs.start('heartbeat-scheduler');
  });
  afterAll(async () => {
    await procs.stopAll();
    await db?.end();
    await t?.drop();
    await aws?.close();
    await cluster?.stop();
  });

  it('readiness answers 200 while every master is up', async () => {
    expect(await ready()).toEqual({ status: 200, body: { status: 'ok', checks: { postgres: 'ok', redis: 'ok' } } });
  });

  it('runs rotations, heartbeats, the scheduler and the reconciler, and keeps every key in the queue’s hash slot', async () => {
    const a = await keySecretFor('cl-a');
    const rot = await ops.finished(await ops.rotate(a.id), 90_000);
    expect({ status: rot.status, errorCode: rot.errorCode }).toEqual({ status: 'succeeded', errorCode: null });

    const hb = await admin.post(`/v1/secrets/${a.id}/heartbeats`);
    expect(hb.status).toBe(202);
    const checked = await eventually(async () => {
      const r = await admin.get(`/v1/heartbeats/${hb.body.id}`);
      return r.body.status === 'done' ? r.body : null;
    }, 60_000);
    expect(checked).toMatchObject({ outcome: 'success', errorCode: null });

    // The scheduler enqueues a due secret's heartbeat through the cluster. The secret is made due here: the
    // promotion made it due at once, but the manual heartbeat above may have taken that turn (one waiting
    // heartbeat per secret) and pushed the next one an interval away.
    await db.query(`UPDATE heartbeat_due SET due_at = now() WHERE secret_id = $1`, [a.id]);
    await eventually(async () => {
      const { rows } = await db.query(`SELECT trigger, status, outcome, error_code, created_at FROM heartbeats WHERE secret_id = $1 ORDER BY created_at`, [a.id]);
      if (rows.some((h) => h.trigger === 'schedule' && h.status === 'done' && h.outcome === 'success')) return true;
      const [s] = (await db.query(`SELECT due_at, now() AS now FROM heartbeat_due WHERE secret_id = $1`, [a.id])).rows;
      throw new Error(
        `no scheduled heartbeat succeeded yet; heartbeats: ${JSON.stringify(rows)}; secret due ${JSON.stringify(s)}\n` +
          `scheduler:\n${scheduler.output().slice(-1500)}\nworker:\n${worker.output().slice(-1500)}`,
      );
    }, 60_000);

    // The reconciler: a queued rotation whose job never reached Redis gets one.
    const b = await keySecretFor('cl-b');
    const { rows } = await db.query(
      `INSERT INTO rotations (id, secret_id, secret_type, status, step, requested_by, trigger)
       VALUES (gen_random_uuid(), $1, 'aws-iam-key', 'queued', 'prepare', 'e2e', 'api') RETURNING id`,
      [b.id],
    );
    const revived = await ops.finished(rows[0].id, 90_000);
    expect({ status: revived.status, errorCode: revived.errorCode }).toEqual({ status: 'succeeded', errorCode: null });

    // The failed-authentication limiter counts in the cluster too.
    const ip = `203.0.113.${1 + Math.floor(Math.random() * 250)}`;
    const statuses: number[] = [];
    for (let i = 0; i < 11; i++) statuses.push((await admin.get('/v1/secrets', { token: `kt_${fakeKey().secretAccessKey}`, headers: { 'x-forwarded-for': ip } })).status);
    expect(statuses.slice(0, 10)).toEqual(Array(10).fill(401));
    expect(statuses[10]).toBe(429);

    // Everything Keyturn wrote lives in the cluster, in the prefix's one slot, on the node it was not told about.
    const keys = await cluster.keys(`${prefix}*`);
    expect(keys).toEqual(expect.arrayContaining([`${prefix}:rotation:rotation-${rot.id}`, `${prefix}:heartbeat:${hb.body.id}`]));
    expect(new Set(keys.map(slotOf))).toEqual(new Set([slotOf(prefix)]));
    expect(keys.filter((k) => k.includes(':authfail:'))).toHaveLength(1);
  }, 300_000);

  it('a master dies: readiness answers 503; it comes back: readiness 200, and the work from before and during the outage finishes', async () => {
    const before = await keySecretFor('cl-before');
    const during = await keySecretFor('cl-during');
    // New keys take a while to work, so the first rotation is mid-flight (verifying) when the master dies.
    aws.emu.setPropagationDelayMs(4_000);
    const inFlight = await ops.rotate(before.id);
    await eventually(async () => (await admin.get(`/v1/rotations/${inFlight}`)).body.step === 'verify', 60_000);

    await cluster.kill(owner);
    await eventually(async () => {
      const r = await ready();
      return r.status === 503 && r.body.checks.redis === 'down' && r.body.checks.postgres === 'ok';
    }, 30_000);
    // The API still takes the request: the row is the truth, and the reconciler enqueues it later.
    const queuedDuringOutage = await ops.rotate(during.id);

    await cluster.restart(owner);
    await cluster.waitForState('ok');
    await eventually(async () => (await ready()).status === 200, 60_000);
    const results = await Promise.all([ops.finished(inFlight, 120_000), ops.finished(queuedDuringOutage, 120_000)]);
    expect(results.map((r) => ({ status: r.status, errorCode: r.errorCode }))).toEqual([
      { status: 'succeeded', errorCode: null },
      { status: 'succeeded', errorCode: null },
    ]);
    aws.emu.resetFaults();
    for (const s of [before, during]) {
      const now = await ops.value<Creds>(s.id);
      expect(now.accessKeyId).not.toBe(s.key.accessKeyId);
      expect(await aws.whoAmI(now)).toBe(`arn:aws:iam::${aws.accountId}:user/${s.name}`);
    }
    // And new work after the outage runs as before.
    const after = await keySecretFor('cl-after');
    const r = await ops.finished(await ops.rotate(after.id), 90_000);
    expect({ status: r.status, errorCode: r.errorCode }).toEqual({ status: 'succeeded', errorCode: null });
  }, 400_000);
});
