import { SecretType } from '@keyturn/contracts';
import { requiredPermissions } from '@keyturn/secrets';
import { AwsFixture, type Creds } from './aws-fixture.js';
import { Processes, WORKER_ENV, vaultOps } from './vault-ops.js';
import { client, createTestEnv, rawDb, startApi, type Client, type RunningApi, type TestEnv } from './harness.js';

/** Rotations the busy account has queued before the quiet account asks for one. */
const BACKLOG = 24;

/**
 * Work is shared fairly across AWS accounts, not taken first-in first-out over
 * all jobs: a quiet account's rotation does not wait behind a busy account's
 * backlog, which its AWS pace drains slowly.
 */
describe('fair share across AWS accounts', () => {
  let busy: AwsFixture;
  let quiet: AwsFixture;
  let t: TestEnv;
  let api: RunningApi;
  let admin: Client;
  const procs = new Processes(() => ({ ...t.env, ...busy.env, ...WORKER_ENV }));
  const busyOps = vaultOps(() => admin, () => busy.accountId);
  const quietOps = vaultOps(() => admin, () => quiet.accountId);

  const userIn = async (aws: AwsFixture, prefix: string, ops: ReturnType<typeof vaultOps>) => {
    const name = aws.uniqueName(prefix);
    const policy = requiredPermissions({ type: SecretType.AwsIamKey, partition: 'aws', accountId: aws.accountId, targetUser: name, executorUser: name }).policy;
    const key: Creds = await aws.user(name, policy);
    return ops.keySecret(name, key);
  };

  beforeAll(async () => {
    busy = await AwsFixture.start();
    quiet = busy.addAccount('210987654321');
    t = await createTestEnv();
    api = await startApi(t);
    admin = client(api.url, t.adminToken);
  });
  afterAll(async () => {
    await procs.stopAll();
    await api?.close();
    await t?.drop();
    await quiet?.close();
    await busy?.close();
  });

  it('a quiet account’s rotation finishes while most of a busy account’s earlier backlog still waits', async () => {
    const busySecrets: string[] = [];
    for (let i = 0; i < BACKLOG; i++) busySecrets.push(await userIn(busy, `busy${i}`, busyOps));
    const quietSecret = await userIn(quiet, 'quiet', quietOps);
    // Two rotations at a time, and a pace of a few AWS calls a second per account: the backlog drains slowly.
    await procs.start('rotation-worker', { KEYTURN_WORKER_CONCURRENCY: '2', KEYTURN_AWS_RATE_PER_ACCOUNT: '4' });

    const backlog = await Promise.all(busySecrets.map((id) => busyOps.rotate(id)));
    const quietRotation = await quietOps.rotate(quietSecret);
    const q = await quietOps.finished(quietRotation, 120_000);
    expect({ status: q.status, errorCode: q.errorCode }).toEqual({ status: 'succeeded', errorCode: null });

    const db = await rawDb(t);
    try {
      // First in, first out, it would have finished after all of them.
      const { rows } = await db.query(
        `SELECT count(*) FILTER (WHERE finished_at < $2)::int AS before, count(*) FILTER (WHERE finished_at IS NULL OR finished_at >= $2)::int AS after
           FROM rotations WHERE id = ANY($1::uuid[])`,
        [backlog, q.finishedAt],
      );
      process.stdout.write(`the quiet account's rotation finished after ${rows[0].before} of the busy account's ${BACKLOG} earlier ones\n`);
      expect(rows[0].before + rows[0].after).toBe(BACKLOG);
      expect(rows[0].after).toBeGreaterThanOrEqual(BACKLOG / 2);
    } finally {
      await db.end();
    }
    // And the backlog itself is not starved in turn: every one of it succeeds.
    const done = await Promise.all(backlog.map((id) => busyOps.finished(id, 240_000)));
    expect(done.map((r) => ({ status: r.status, errorCode: r.errorCode }))).toEqual(Array(BACKLOG).fill({ status: 'succeeded', errorCode: null }));
  }, 400_000);
});
