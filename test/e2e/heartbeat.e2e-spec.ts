import { Redis } from 'ioredis';
import { Webhook } from 'standardwebhooks';
import { SecretType } from '@keyturn/contracts';
import { requiredPermissions } from '@keyturn/secrets';
import { AwsFixture } from './aws-fixture.js';
import { Processes, WORKER_ENV, vaultOps } from './vault-ops.js';
import {
  REDIS_URL,
  client,
  createTestEnv,
  eventually,
  rawDb,
  startApi,
  type Client,
  type RunningApi,
  type TestEnv,
} from './harness.js';
import { newWebhookSecret, signatureHeaders, webhookReceiver as rawReceiver } from './webhook-receiver.js';

const WEBHOOK_SECRET = newWebhookSecret();

interface Received {
  event: string;
  body: any;
  /** 'verified', or why the verifier refused the delivery. */
  signature: string;
}

/** A webhook receiver that checks each delivery's Standard Webhooks signature with an independent verifier. */
async function webhookReceiver(): Promise<{ url: string; received: Received[]; close(): Promise<void> }> {
  const raw = await rawReceiver();
  const verifier = new Webhook(WEBHOOK_SECRET);
  const checked = (d: (typeof raw.received)[number]): Received => {
    let signature = 'verified';
    try {
      verifier.verify(d.raw, signatureHeaders(d));
    } catch (e) {
      signature = (e as Error).message;
    }
    return { event: String(d.headers['x-keyturn-event']), body: d.body, signature };
  };
  return {
    url: raw.url,
    // Checked as read, while each delivery's timestamp is fresh.
    get received() {
      return raw.received.map(checked);
    },
    close: raw.close,
  };
}

describe('heartbeats, scheduler, reconciler and webhooks', () => {
  let aws: AwsFixture;
  let t: TestEnv;
  let api: RunningApi;
  let admin: Client;
  let hooks: Awaited<ReturnType<typeof webhookReceiver>>;
  const procs = new Processes(() => ({
    ...t.env,
    ...aws.env,
    ...WORKER_ENV,
    KEYTURN_SCHEDULER_TICK_MS: '500',
    KEYTURN_RECONCILE_AFTER_MS: '1000',
    KEYTURN_HEARTBEAT_INTERVAL_SECONDS: '10',
  }));
  const start = (app: 'rotation-worker' | 'heartbeat-scheduler', extra: Record<string, string> = {}) => procs.start(app, extra);
  const stopAll = () => procs.stopAll();
  const { keySecret } = vaultOps(() => admin, () => aws.accountId);

  beforeAll(async () => {
    aws = await AwsFixture.start();
    hooks = await webhookReceiver();
    t = await createTestEnv({ KEYTURN_WEBHOOK_URLS: hooks.url, KEYTURN_WEBHOOK_SECRET: WEBHOOK_SECRET, KEYTURN_HEARTBEAT_INTERVAL_SECONDS: '10' });
    api = await startApi(t);
    admin = client(api.url, t.adminToken);
  });
  afterAll(async () => {
    await stopAll();
    await api?.close();
    await t?.drop();
    await hooks?.close();
    await aws?.close();
  });
  afterEach(async () => {
    await stopAll();
    aws.emu.resetFaults();
  });

  const status = async (id: string) => (await admin.get(`/v1/secrets/${id}`)).body.heartbeatStatus as string;

  it('a heartbeat on request: success for a working key, 422 for a console password', async () => {
    const name = aws.uniqueName('hb');
    const u = await aws.user(name);
    const id = await keySecret(name, u);
    await start('rotation-worker');
    const r = await admin.post(`/v1/secrets/${id}/heartbeats`);
    expect(r.status).toBe(202);
    const hb = await eventually(async () => {
      const h = (await admin.get(`/v1/heartbeats/${r.body.id}`)).body;
      return h.status === 'done' ? h : null;
    });
    expect(hb).toMatchObject({ outcome: 'success', checkedArn: `arn:aws:iam::${aws.accountId}:user/${name}` });
    expect(await status(id)).toBe('success');
    expect((await admin.get(`/v1/secrets/${id}/heartbeats`)).body.items.map((h: { id: string }) => h.id)).toContain(r.body.id);

    const pw = await admin.post('/v1/secrets', {
      type: 'aws-iam-console-password', name: `${name}-console`, folder: '/hb', username: name, accountId: aws.accountId,
      password: 'Initial-Password-123!', privilegedSecretId: id,
    });
    const denied = await admin.post(`/v1/secrets/${pw.body.id}/heartbeats`);
    expect(denied.status).toBe(422);
    expect(denied.body.code).toBe('HEARTBEAT_NOT_SUPPORTED');
    expect(denied.body.message).toMatch(/console password/);
  });

  it('a key deleted behind Keyturn’s back: failed at the next scheduled check and a signed webhook; a rotation brings success and a second webhook', async () => {
    const target = aws.uniqueName('victim');
    const rotator = aws.uniqueName('rotator');
    const tu = await aws.user(target);
    const ru = await aws.user(rotator, requiredPermissions({ type: SecretType.AwsIamKey, partition: 'aws', accountId: aws.accountId, targetUser: target, executorUser: rotator }).policy);
    const rotatorId = await keySecret(rotator, ru);
    const id = await keySecret(target, tu, { privilegedSecretId: rotatorId });
    await start('rotation-worker');
    await start('heartbeat-scheduler');
    await eventually(async () => (await status(id)) === 'success', 20_000);

    const before = hooks.received.length;
    const db = await rawDb(t);
    await aws.deleteKey(target, tu.accessKeyId);
    const { rows: [{ deletedAt }] } = await db.query(`SELECT now() AS "deletedAt"`);
    await eventually(async () => (await status(id)) === 'failed', 60_000);
    // The next scheduled check caught it, whenever a loaded machine let it run: the first heartbeat
    // of this secret that finished after the deletion is a scheduled one, and it failed.
    const { rows: after } = await db.query(
      `SELECT trigger, outcome, error_code FROM heartbeats WHERE secret_id = $1 AND finished_at > $2 ORDER BY finished_at LIMIT 1`,
      [id, deletedAt],
    );
    expect(after).toEqual([{ trigger: 'schedule', outcome: 'failed', error_code: 'IAM_INVALID_CREDENTIALS' }]);
    const failedHook = await eventually(async () =>
      hooks.received.slice(before).find((h) => h.event === 'heartbeat.status-changed' && h.body.data.secretId === id && h.body.data.to === 'failed'),
    );
    expect(failedHook.signature).toBe('verified');
    expect(failedHook.body.data.from).toBe('success');
    expect(JSON.stringify(failedHook.body)).not.toContain(tu.secretAccessKey);

    // A rotation through the privileged account makes a new, working key.
    const rot = await admin.post(`/v1/secrets/${id}/rotations`);
    await eventually(async () => (await admin.get(`/v1/rotations/${rot.body.id}`)).body.status === 'succeeded', 30_000);
    await eventually(async () => (await status(id)) === 'success', 20_000);
    const okHook = await eventually(async () =>
      hooks.received.find((h) => h.event === 'heartbeat.status-changed' && h.body.data.secretId === id && h.body.data.from === 'failed' && h.body.data.to === 'success'),
    );
    expect(okHook.signature).toBe('verified');
    // The verify step records the heartbeat in the promote transaction, so status-changed may be sent before rotation.succeeded.
    const rotHook = await eventually(async () => hooks.received.find((h) => h.event === 'rotation.succeeded' && h.body.data.rotationId === rot.body.id));
    expect(rotHook.signature).toBe('verified');
    // Every delivery is recorded. The dispatcher marks a delivery after the receiver's answer, so the
    // receiver can hold a webhook a moment before its row says so: wait until no delivery is pending.
    const rows = await eventually(async () => {
      const { rows: all } = await db.query(`SELECT status, attempts, last_status_code FROM webhook_deliveries d JOIN events e ON e.id = d.event_id WHERE e.secret_id = $1`, [id]);
      return all.length && all.every((r: { status: string }) => r.status !== 'pending') ? all : null;
    });
    await db.end();
    expect(rows.length).toBeGreaterThanOrEqual(3);
    expect(rows.every((r: { status: string; last_status_code: number }) => r.status === 'delivered' && r.last_status_code === 204)).toBe(true);
  });

  it('AWS calls: a heartbeat is one call between listings; a rotation makes five and its verify counts as the heartbeat', async () => {
    const name = aws.uniqueName('calls');
    const policy = requiredPermissions({ type: SecretType.AwsIamKey, partition: 'aws', accountId: aws.accountId, targetUser: name, executorUser: name }).policy;
    const u = await aws.user(name, policy);
    const id = await keySecret(name, u, { settings: { heartbeatIntervalSeconds: 3600 } });
    // Keyturn's calls, all made with the user's own keys (the fixture's set-up calls are root's).
    const callsOf = () => aws.emu.callLog().filter((c) => c.callerArn === `arn:aws:iam::${aws.accountId}:user/${name}`).map((c) => c.action);
    const heartbeat = async () => {
      const r = await admin.post(`/v1/secrets/${id}/heartbeats`);
      expect(r.status).toBe(202);
      return eventually(async () => {
        const h = (await admin.get(`/v1/heartbeats/${r.body.id}`)).body;
        return h.status === 'done' ? h : null;
      });
    };
    await start('rotation-worker');
    await start('heartbeat-scheduler');
    // A new secret's first scheduled heartbeat comes at a random point of its hour (the load is spread),
    // so this one is requested. The first heartbeat of a key lists the keys for its status and age.
    expect(await heartbeat()).toMatchObject({ outcome: 'success', keyStatus: 'Active', keyAgeDays: 0 });
    expect(callsOf()).toEqual(['GetCallerIdentity', 'ListAccessKeys']);
    // Within a day of that listing: GetCallerIdentity alone, status and age still reported.
    expect(await heartbeat()).toMatchObject({ outcome: 'success', keyStatus: 'Active', keyAgeDays: 0 });
    expect(callsOf().slice(2)).toEqual(['GetCallerIdentity']);

    const before = callsOf().length;
    const rot = await admin.post(`/v1/secrets/${id}/rotations`);
    await eventually(async () => (await admin.get(`/v1/rotations/${rot.body.id}`)).body.status === 'succeeded', 30_000);
    expect(callsOf().slice(before)).toEqual(['GetCallerIdentity', 'ListAccessKeys', 'CreateAccessKey', 'GetCallerIdentity', 'UpdateAccessKey']);
    // The verify step is recorded as the new key's heartbeat, and the next one is an interval away, not at once.
    const secret = (await admin.get(`/v1/secrets/${id}`)).body;
    expect(secret.heartbeatStatus).toBe('success');
    expect(new Date(secret.nextHeartbeatAt).getTime() - new Date(secret.lastHeartbeatAt).getTime()).toBe(3600_000);
    const [latest] = (await admin.get(`/v1/secrets/${id}/heartbeats`)).body.items;
    expect(latest).toMatchObject({ trigger: 'rotation', outcome: 'success', keyStatus: 'Active', keyAgeDays: 0, checkedArn: `arn:aws:iam::${aws.accountId}:user/${name}` });
    // CreateAccessKey's answer counts as the new key's listing: its heartbeats are one call too.
    const after = callsOf().length;
    expect(await heartbeat()).toMatchObject({ outcome: 'success', keyStatus: 'Active', keyAgeDays: 0 });
    expect(callsOf().slice(after)).toEqual(['GetCallerIdentity']);
  });

  it('the emulator throttling every other call: no false failed', async () => {
    const names = [aws.uniqueName('thr'), aws.uniqueName('thr'), aws.uniqueName('thr')];
    const ids: string[] = [];
    for (const n of names) ids.push(await keySecret(n, await aws.user(n)));
    aws.emu.setThrottleEvery(2);
    await start('rotation-worker');
    const requested = [];
    for (let round = 0; round < 3; round++) {
      for (const id of ids) requested.push((await admin.post(`/v1/secrets/${id}/heartbeats`)).body.id);
    }
    const results = await Promise.all(
      requested.map((hid) =>
        eventually(async () => {
          const h = (await admin.get(`/v1/heartbeats/${hid}`)).body;
          return h.status === 'done' ? h : null;
        }, 60_000),
      ),
    );
    expect(results.map((h) => h.outcome)).toEqual(Array(results.length).fill('success'));
    for (const id of ids) expect(await status(id)).toBe('success');
    expect(aws.emu.callLog().some((c) => c.errorCode === 'Throttling')).toBe(true);
  });

  it('Redis flushed while a rotation is queued and while it runs: the rotation still completes', async () => {
    const flush = async () => {
      const r = new Redis(REDIS_URL);
      const prefix = t.env.KEYTURN_QUEUE_PREFIX;
      let cursor = '0';
      do {
        const [next, keys] = await r.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
        if (keys.length) await r.del(...keys);
        cursor = next;
      } while (cursor !== '0');
      await r.quit();
    };
    const name = aws.uniqueName('flush');
    const policy = requiredPermissions({ type: SecretType.AwsIamKey, partition: 'aws', accountId: aws.accountId, targetUser: name, executorUser: name }).policy;
    const u = await aws.user(name, policy);
    const id = await keySecret(name, u);

    // Queued, no worker yet: the job is lost with Redis; the reconciler brings it back.
    const first = await admin.post(`/v1/secrets/${id}/rotations`);
    await flush();
    await start('heartbeat-scheduler');
    await start('rotation-worker');
    await eventually(async () => (await admin.get(`/v1/rotations/${first.body.id}`)).body.status === 'succeeded', 60_000);

    // Running (waiting for a slow new key), then the worker dies and Redis is flushed.
    await stopAll();
    aws.emu.setPropagationDelayMs(3_000);
    const doomed = await start('rotation-worker');
    const second = await admin.post(`/v1/secrets/${id}/rotations`);
    await eventually(async () => (await admin.get(`/v1/rotations/${second.body.id}`)).body.step === 'verify', 20_000);
    await doomed.kill('SIGKILL');
    procs.forget(doomed);
    await flush();
    await start('rotation-worker');
    await start('heartbeat-scheduler');
    const done = await eventually(async () => {
      const r = (await admin.get(`/v1/rotations/${second.body.id}`)).body;
      return r.status === 'succeeded' || r.status === 'failed' ? r : null;
    }, 90_000);
    expect(done.status).toBe('succeeded');
    const value = (await admin.get(`/v1/secrets/${id}/value`)).body.fields;
    expect(await aws.whoAmI(value)).toBe(`arn:aws:iam::${aws.accountId}:user/${name}`);
    expect((await aws.keys(name)).length).toBeLessThanOrEqual(2);
  });

  it('automatic change: a secret past its interval gets exactly one rotation', async () => {
    const name = aws.uniqueName('auto');
    const policy = requiredPermissions({ type: SecretType.AwsIamKey, partition: 'aws', accountId: aws.accountId, targetUser: name, executorUser: name }).policy;
    const u = await aws.user(name, policy);
    const id = await keySecret(name, u, { settings: { autoChangeIntervalDays: 30 } });
    const db = await rawDb(t);
    await db.query(`UPDATE secrets SET created_at = now() - interval '31 days' WHERE id = $1`, [id]);
    // Two schedulers: the change must still be requested once.
    await Promise.all([start('heartbeat-scheduler'), start('heartbeat-scheduler'), start('rotation-worker')]);
    const rotations = await eventually(async () => {
      const items = (await admin.get(`/v1/secrets/${id}/rotations`)).body.items;
      return items.length && items.every((r: { status: string }) => r.status === 'succeeded') ? items : null;
    }, 90_000, 500);
    // Several more ticks of both schedulers: the secret was just changed, so nothing new is due.
    await new Promise((r) => setTimeout(r, 3_000));
    const again = (await admin.get(`/v1/secrets/${id}/rotations`)).body.items;
    await db.end();
    expect(rotations).toHaveLength(1);
    expect(again).toHaveLength(1);
    expect(again[0]).toMatchObject({ trigger: 'schedule', status: 'succeeded', requestedBy: 'system:scheduler' });
    expect((await admin.get(`/v1/secrets/${id}/value`)).body.fields.accessKeyId).not.toBe(u.accessKeyId);
  });

  it('two scheduler replicas over 10,000 due secrets: each heartbeat enqueued exactly once', async () => {
    const db = await rawDb(t);
    await db.query(`
      INSERT INTO secrets (id, type, name, folder, username, account_id)
      SELECT gen_random_uuid(), 'aws-iam-key', 'bulk-' || i, '/bulk', 'bulk-user-' || i, '123456789012' FROM generate_series(1, 10000) AS i`);
    // Each key secret's due row came with it (a trigger): make them due one second apart.
    await db.query(`
      UPDATE heartbeat_due d SET due_at = now() - (substr(s.name, 6)::int || ' seconds')::interval
        FROM secrets s WHERE s.id = d.secret_id AND s.folder = '/bulk'`);
    const started = Date.now();
    // No worker runs: the jobs stay in the queue where they can be counted.
    await Promise.all([start('heartbeat-scheduler', { KEYTURN_SCHEDULER_BATCH: '500' }), start('heartbeat-scheduler', { KEYTURN_SCHEDULER_BATCH: '500' })]);
    await eventually(async () => {
      const { rows } = await db.query(`SELECT count(*)::int AS n FROM heartbeats h JOIN secrets s ON s.id = h.secret_id WHERE s.folder = '/bulk'`);
      return rows[0].n >= 10_000;
    }, 120_000, 500);
    const elapsed = Date.now() - started;
    await stopAll();
    const { rows } = await db.query(`
      SELECT count(*)::int AS n, count(DISTINCT h.secret_id)::int AS secrets
        FROM heartbeats h JOIN secrets s ON s.id = h.secret_id WHERE s.folder = '/bulk'`);
    const bulk = await db.query(`SELECT h.id FROM heartbeats h JOIN secrets s ON s.id = h.secret_id WHERE s.folder = '/bulk'`);
    await db.end();
    expect(rows[0]).toEqual({ n: 10_000, secrets: 10_000 });
    // The queue also holds heartbeats of this file's other secrets: look at the bulk ones.
    // Waiting jobs sit in BullMQ's wait list, or in its prioritized set when they carry a fair-share priority.
    const r = new Redis(REDIS_URL);
    const jobIds = [
      ...(await r.lrange(`${t.env.KEYTURN_QUEUE_PREFIX}:heartbeat:wait`, 0, -1)),
      ...(await r.zrange(`${t.env.KEYTURN_QUEUE_PREFIX}:heartbeat:prioritized`, 0, -1)),
    ];
    await r.quit();
    expect(new Set(jobIds).size).toBe(jobIds.length);
    const queued = new Set(jobIds);
    const missing = bulk.rows.filter((h: { id: string }) => !queued.has(h.id));
    expect(missing).toEqual([]);
    process.stdout.write(`two schedulers enqueued 10,000 heartbeats in ${elapsed} ms\n`);
  }, 240_000);
});
