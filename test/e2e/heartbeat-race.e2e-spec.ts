import { createServer, request, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { SecretType } from '@keyturn/contracts';
import { requiredPermissions } from '@keyturn/secrets';
import { AwsFixture, type Creds } from './aws-fixture.js';
import { Processes, WORKER_ENV, vaultOps } from './vault-ops.js';
import { client, createTestEnv, eventually, rawDb, startApi, type Client, type RunningApi, type TestEnv } from './harness.js';

/**
 * A pass-through proxy in front of the emulator's STS that can hold the first
 * request signed with a given access key until the test releases it: the
 * heartbeat's GetCallerIdentity is then in flight, for as long as the test
 * wants, while a rotation runs. The request reaches the emulator only on
 * release, so it is judged against IAM as it is then (as AWS would).
 */
async function holdingProxy(target: string) {
  let holdKey: string | null = null;
  let held: { release(): void } | null = null;
  let released = false;
  let arrived: () => void = () => undefined;
  const heldArrived = new Promise<void>((r) => (arrived = r));
  const forward = (req: IncomingMessage, body: Buffer, res: ServerResponse) => {
    const up = request(new URL(req.url ?? '/', target), { method: req.method, headers: req.headers }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    });
    up.on('error', () => res.destroy());
    up.end(body);
  };
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      if (holdKey && !held && String(req.headers.authorization ?? '').includes(`Credential=${holdKey}/`)) {
        held = { release: () => forward(req, body, res) };
        arrived();
        return;
      }
      forward(req, body, res);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}`,
    /** Holds the next request signed with `accessKeyId` (one only). */
    holdNext(accessKeyId: string) {
      holdKey = accessKeyId;
    },
    heldArrived,
    /** Sends the held request on to the emulator (once). */
    release() {
      if (!held || released) return;
      released = true;
      held.release();
    },
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

describe('a heartbeat whose key stops being current while it runs', () => {
  let aws: AwsFixture;
  let proxy: Awaited<ReturnType<typeof holdingProxy>>;
  let t: TestEnv;
  let api: RunningApi;
  let admin: Client;
  const procs = new Processes(() => ({
    ...t.env,
    ...aws.env,
    AWS_ENDPOINT_URL_STS: proxy.url,
    ...WORKER_ENV,
    // The held call must outlast the rotation without the SDK giving up on it.
    KEYTURN_AWS_TIMEOUT_MS: '120000',
  }));
  const ops = vaultOps(() => admin, () => aws.accountId);

  beforeAll(async () => {
    aws = await AwsFixture.start();
    proxy = await holdingProxy(aws.emu.url);
    t = await createTestEnv();
    api = await startApi(t);
    admin = client(api.url, t.adminToken);
  });
  afterAll(async () => {
    proxy?.release();
    await procs.stopAll();
    await api?.close();
    await t?.drop();
    await proxy?.close();
    await aws?.close();
  });

  const heartbeatDone = (id: string) =>
    eventually(async () => {
      const h = (await admin.get(`/v1/heartbeats/${id}`)).body;
      return h.status === 'done' ? h : null;
    }, 120_000);

  it('is checked again on the new current key: success, no failed status, no status-changed event to failed', async () => {
    const name = aws.uniqueName('race');
    const policy = requiredPermissions({ type: SecretType.AwsIamKey, partition: 'aws', accountId: aws.accountId, targetUser: name, executorUser: name }).policy;
    const old: Creds = await aws.user(name, policy);
    const id = await ops.keySecret(name, old, { settings: { shouldInactivatePreviousKey: true, shouldDeletePreviousKey: false } });
    await procs.start('rotation-worker');

    // A first heartbeat, undisturbed, makes the status success.
    expect(await heartbeatDone((await admin.post(`/v1/secrets/${id}/heartbeats`)).body.id)).toMatchObject({ outcome: 'success' });

    // The next one's GetCallerIdentity (with the old key) is held in flight...
    proxy.holdNext(old.accessKeyId);
    const hb = await admin.post(`/v1/secrets/${id}/heartbeats`);
    expect(hb.status).toBe(202);
    await proxy.heldArrived;
    // ...while a rotation promotes a new key and inactivates the old one.
    const rotation = await ops.finished(await ops.rotate(id), 120_000);
    expect(rotation).toMatchObject({ status: 'succeeded', retirePending: false });
    const fresh = await ops.value<Creds>(id);
    expect(await aws.keys(name)).toEqual(expect.arrayContaining([{ id: old.accessKeyId, status: 'Inactive' }, { id: fresh.accessKeyId, status: 'Active' }]));
    // Now AWS answers the held call: the old key is rejected.
    proxy.release();

    const done = await heartbeatDone(hb.body.id);
    expect(done).toMatchObject({ outcome: 'success', errorCode: null, checkedArn: `arn:aws:iam::${aws.accountId}:user/${name}`, keyStatus: 'Active' });
    expect((await admin.get(`/v1/secrets/${id}`)).body.heartbeatStatus).toBe('success');
    const db = await rawDb(t);
    const events = await db.query(`SELECT payload FROM events WHERE secret_id = $1 AND type = 'heartbeat.status-changed'`, [id]);
    const audits = await db.query(`SELECT details FROM audit_events WHERE secret_id = $1 AND action = 'heartbeat.status-changed'`, [id]);
    await db.end();
    expect(events.rows.map((r: { payload: { to: string } }) => r.payload.to)).toEqual(['success']);
    expect(audits.rows.map((r: { details: { to: string } }) => r.details.to)).toEqual(['success']);
    // The rejected call did happen: the race was real.
    expect(aws.emu.callLog().some((c) => c.action === 'GetCallerIdentity' && c.errorCode === 'InvalidClientTokenId')).toBe(true);
  });
});
