/**
 * Webhook signatures checked the way a receiver would: with the `standardwebhooks`
 * package (an independent implementation of the Standard Webhooks specification),
 * on real deliveries that a running scheduler sent to a local HTTP endpoint.
 */
import { jest } from '@jest/globals';
import { Webhook, WebhookVerificationError } from 'standardwebhooks';
import { SecretType } from '@keyturn/contracts';
import { requiredPermissions } from '@keyturn/secrets';
import { AwsFixture } from './aws-fixture.js';
import { Processes, WORKER_ENV, vaultOps } from './vault-ops.js';
import { client, createTestEnv, eventually, rawDb, spawnApp, startApi, type Client, type RunningApi, type TestEnv } from './harness.js';
import { newWebhookSecret, signatureHeaders, webhookReceiver, type Delivery, type WebhookReceiver } from './webhook-receiver.js';

/** What the verifier says about a delivery: the parsed payload, or the verification error's message. */
function verdict(secret: string, raw: string, headers: Record<string, string>): { ok: unknown } | { rejected: string } {
  try {
    return { ok: new Webhook(secret).verify(raw, headers) };
  } catch (e) {
    if (!(e instanceof WebhookVerificationError)) throw e;
    return { rejected: e.message };
  }
}

describe('webhooks: Standard Webhooks signatures', () => {
  let aws: AwsFixture;
  let t: TestEnv;
  let api: RunningApi;
  let admin: Client;
  let hooks: WebhookReceiver;
  const secret = newWebhookSecret();
  const procs = new Processes(() => ({ ...t.env, ...aws.env, ...WORKER_ENV, KEYTURN_SCHEDULER_TICK_MS: '500' }));
  const { keySecret, rotate, finished } = vaultOps(() => admin, () => aws.accountId);

  beforeAll(async () => {
    aws = await AwsFixture.start();
    hooks = await webhookReceiver();
    t = await createTestEnv({ KEYTURN_WEBHOOK_URLS: hooks.url, KEYTURN_WEBHOOK_SECRET: secret });
    api = await startApi(t);
    admin = client(api.url, t.adminToken);
    await Promise.all([procs.start('rotation-worker'), procs.start('heartbeat-scheduler')]);
  });
  afterAll(async () => {
    await procs.stopAll();
    await api?.close();
    await t?.drop();
    await hooks?.close();
    await aws?.close();
  });

  const deliveryOf = (pred: (d: Delivery) => boolean) => eventually(async () => hooks.received.find(pred), 60_000);

  it('a real delivery verifies; the same delivery replayed after the tolerance, tampered or re-timestamped does not', async () => {
    const name = aws.uniqueName('hook');
    const policy = requiredPermissions({ type: SecretType.AwsIamKey, partition: 'aws', accountId: aws.accountId, targetUser: name, executorUser: name }).policy;
    const id = await keySecret(name, await aws.user(name, policy));
    const rotationId = await rotate(id);
    expect((await finished(rotationId)).status).toBe('succeeded');
    const d = await deliveryOf((x) => x.body.type === 'rotation.succeeded' && x.body.data.rotationId === rotationId);

    // The version consumers should now read: the stored key was version 1, the change made version 2.
    expect(d.body.data).toEqual(expect.objectContaining({ secretId: id, status: 'succeeded', version: 2 }));
    // The headers of the specification, and the old body-only signature gone.
    expect(d.headers['x-keyturn-event']).toBe('rotation.succeeded');
    expect(d.headers['webhook-id']).toBe(d.body.id);
    expect(d.headers['webhook-timestamp']).toMatch(/^\d{10}$/);
    expect(d.headers['webhook-signature']).toMatch(/^v1,[A-Za-z0-9+/]{43}=$/);
    expect(d.headers).not.toHaveProperty('x-keyturn-signature');
    const sentAt = Number(d.headers['webhook-timestamp']);
    expect(Math.abs(sentAt - Date.now() / 1000)).toBeLessThanOrEqual(5 * 60); // the verifier's own tolerance window

    // As received: verifies, and yields the payload.
    expect(verdict(secret, d.raw, signatureHeaders(d))).toEqual({ ok: d.body });
    // The wrong secret.
    expect(verdict(newWebhookSecret(), d.raw, signatureHeaders(d))).toEqual({ rejected: 'No matching signature found' });
    // A tampered body (a rotation id swapped).
    const tampered = d.raw.replace(rotationId, rotationId.replace(/.$/, (c) => (c === '0' ? '1' : '0')));
    expect(tampered).not.toBe(d.raw);
    expect(verdict(secret, tampered, signatureHeaders(d))).toEqual({ rejected: 'No matching signature found' });
    // Another message id with the same body and signature: refused too.
    expect(verdict(secret, d.raw, { ...signatureHeaders(d), 'webhook-id': `${d.body.id}x` })).toEqual({ rejected: 'No matching signature found' });
    // The captured delivery replayed six minutes later: unchanged, it is older than the 5-minute
    // tolerance; with its timestamp refreshed, the signature (which covers the timestamp) no longer matches.
    const later = Date.now() + 6 * 60_000;
    const clock = jest.spyOn(Date, 'now').mockReturnValue(later);
    try {
      expect(verdict(secret, d.raw, signatureHeaders(d))).toEqual({ rejected: 'Message timestamp too old' });
      const refreshed = { ...signatureHeaders(d), 'webhook-timestamp': String(Math.floor(later / 1000)) };
      expect(verdict(secret, d.raw, refreshed)).toEqual({ rejected: 'No matching signature found' });
    } finally {
      clock.mockRestore();
    }
  });

  it('a retried delivery keeps its webhook-id, carries the time of its own attempt, and verifies', async () => {
    const name = aws.uniqueName('retry');
    const key = await aws.user(name);
    let sid = '';
    hooks.failNext(1, 503, (body) => body.type === 'heartbeat.status-changed' && body.data.to === 'success' && body.data.secretId === sid);
    sid = await keySecret(name, key);
    const hb = await admin.post(`/v1/secrets/${sid}/heartbeats`);
    expect(hb.status).toBe(202);
    const attempts = await eventually(async () => {
      const got = hooks.received.filter((x) => x.body.type === 'heartbeat.status-changed' && x.body.data.secretId === sid && x.body.data.to === 'success');
      return got.length >= 2 ? got : null;
    }, 60_000);
    const [first, second] = attempts;
    expect([first.answered, second.answered]).toEqual([503, 204]);
    expect(second.headers['webhook-id']).toBe(first.headers['webhook-id']);
    expect(second.raw).toBe(first.raw);
    // The first retry waits at least two seconds, so the second attempt is signed with a later time.
    expect(Number(second.headers['webhook-timestamp'])).toBeGreaterThan(Number(first.headers['webhook-timestamp']));
    expect(second.headers['webhook-signature']).not.toBe(first.headers['webhook-signature']);
    for (const d of [first, second]) expect(verdict(secret, d.raw, signatureHeaders(d))).toEqual({ ok: d.body });

    const db = await rawDb(t);
    const { rows } = await db.query(
      `SELECT d.status, d.attempts, d.last_status_code FROM webhook_deliveries d WHERE d.event_id = $1`,
      [first.body.id],
    );
    await db.end();
    expect(rows).toEqual([{ status: 'delivered', attempts: 2, last_status_code: 204 }]);
  });

  it('a secret not in the whsec_<base64> form stops the scheduler at start, naming the variable and the form, not the value', async () => {
    const bad = 'plain-old-shared-secret-0123456789';
    const app = spawnApp('heartbeat-scheduler', { ...t.env, ...aws.env, KEYTURN_WEBHOOK_SECRET: bad });
    // If it starts anyway, it says so; stop it rather than leave it running.
    const outcome = await Promise.race([
      new Promise<number | null>((resolve) => app.child.once('exit', (c) => resolve(c))),
      app.waitFor(/ready: connected/, 60_000).then(() => 'started' as const),
    ]).finally(() => app.kill('SIGKILL'));
    expect(outcome).toBe(78);
    expect(app.output()).toMatch(/KEYTURN_WEBHOOK_SECRET: must be whsec_ followed by the base64 of 24 to 64 random bytes/);
    expect(app.output()).not.toContain(bad);
  });
});
