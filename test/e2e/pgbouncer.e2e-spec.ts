import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { loadConfig } from '@keyturn/config';
import { SecretType } from '@keyturn/contracts';
import { requiredPermissions } from '@keyturn/secrets';
import { MIGRATIONS, runMigrations } from '@keyturn/store';
import { AwsFixture, type Creds } from './aws-fixture.js';
import { Processes, WORKER_ENV, vaultOps } from './vault-ops.js';
import { PG_ADMIN_URL, client, createTestEnv, dropDatabase, eventually, rawDb, spawnApp, startApi, type Client, type RunningApi, type SpawnedApp, type TestEnv } from './harness.js';
import { PgBouncer } from './pgbouncer.js';

/**
 * Keyturn through PgBouncer in transaction mode: each statement (or
 * transaction) may run on another server connection, so nothing may rely on
 * session state — session advisory locks, SET, prepared statements kept by name.
 */
describe('Postgres behind PgBouncer in transaction mode', () => {
  let bouncer: PgBouncer;
  /** Straight to Postgres, not through the pooler. */
  let direct: pg.Client;

  beforeAll(async () => {
    bouncer = await PgBouncer.start({ poolSize: 10 });
    direct = new pg.Client({ connectionString: PG_ADMIN_URL });
    await direct.connect();
  });
  afterAll(async () => {
    await direct?.end();
    await bouncer?.stop();
  });

  /** `p`, or a failure naming the hang once `ms` have passed. */
  async function within<T>(p: Promise<T>, ms: number): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    try {
      return await Promise.race([p, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`still running after ${ms} ms`)), ms)))]);
    } finally {
      clearTimeout(timer);
    }
  }

  async function freshDatabase(): Promise<string> {
    const name = `keyturn_e2e_pgb_${Date.now().toString(36)}_${randomBytes(3).toString('hex')}`;
    await direct.query(`CREATE DATABASE ${name}`);
    return name;
  }

  it('three processes starting at once migrate a fresh database through the pooler: one applies every migration, none fails or hangs, no lock stays held', async () => {
    const name = await freshDatabase();
    try {
      const url = bouncer.url(name);
      const settled = await within(Promise.allSettled([runMigrations(url), runMigrations(url), runMigrations(url)]), 60_000);
      expect(settled.map((s) => (s.status === 'fulfilled' ? s.value.length : `rejected: ${(s.reason as Error).message}`)).sort()).toEqual(
        [0, 0, MIGRATIONS.length].sort(),
      );
      const { rows } = await direct.query(
        `SELECT count(*)::int AS n FROM pg_locks l JOIN pg_database d ON d.oid = l.database WHERE l.locktype = 'advisory' AND d.datname = $1`,
        [name],
      );
      expect(rows[0].n).toBe(0);
    } finally {
      await dropDatabase(name);
    }
  }, 120_000);

  describe('Keyturn’s apps through the pooler, with two workers', () => {
    let aws: AwsFixture;
    let t: TestEnv;
    let api: RunningApi;
    let admin: Client;
    const procs = new Processes(() => ({ ...t.env, ...aws.env, ...WORKER_ENV }));
    const ops = vaultOps(() => admin, () => aws.accountId);

    beforeAll(async () => {
      aws = await AwsFixture.start();
      t = await createTestEnv({ KEYTURN_DB_POOLER: 'transaction' });
      // The apps talk through the pooler; rawDb (t.databaseUrl) stays direct, for looking at rows.
      t.env.DATABASE_URL = bouncer.url(t.name);
      t.config = loadConfig(t.env);
      api = await startApi(t);
      admin = client(api.url, t.adminToken);
    });
    afterAll(async () => {
      await procs.stopAll();
      await api?.close();
      await t?.drop();
      await aws?.close();
    });
    afterEach(async () => {
      await procs.stopAll();
      aws.emu.resetFaults();
    });

    /** A user whose own key (a key secret) rotates itself and changes its console password (a password secret). */
    async function keyAndPasswordOfOneUser() {
      const name = aws.uniqueName('pgb');
      const statements = [SecretType.AwsIamKey, SecretType.AwsIamConsolePassword].flatMap(
        (type) => (requiredPermissions({ type, partition: 'aws', accountId: aws.accountId, targetUser: name, executorUser: name }).policy as { Statement: object[] }).Statement,
      );
      const key: Creds = await aws.user(name, { Version: '2012-10-17', Statement: statements });
      await aws.loginProfile(name, 'Initial-Passw0rd!');
      const keyId = await ops.keySecret(name, key);
      const passwordId = await ops.passwordSecret(name, 'Initial-Passw0rd!', { privilegedSecretId: keyId });
      return { name, key, keyId, passwordId };
    }

    it('concurrent changes of one IAM user stay serialised: in IAM’s call log no password change falls inside a key rotation', async () => {
      const u = await keyAndPasswordOfOneUser();
      await Promise.all([procs.start('rotation-worker'), procs.start('rotation-worker')]);
      // AWS answers take a while, so a rotation's calls span long enough for an unserialised one to land among them.
      aws.emu.setLatencyMs(50);
      aws.emu.clearCallLog();
      const ids: string[] = [];
      for (let wave = 0; wave < 4; wave++) {
        // The key rotation and the password change of the same user, requested at the same moment: two workers take them at once.
        const both = await Promise.all([ops.rotate(u.keyId), ops.rotate(u.passwordId)]);
        ids.push(...both);
        const done = await Promise.all(both.map((id) => ops.finished(id, 120_000)));
        expect(done.map((r) => ({ status: r.status, errorCode: r.errorCode }))).toEqual([
          { status: 'succeeded', errorCode: null },
          { status: 'succeeded', errorCode: null },
        ]);
      }
      const calls = aws.emu.callLog().filter((c) => c.userName === u.name);
      // Every key rotation runs CreateAccessKey … UpdateAccessKey (retire: inactivate the previous key); nothing else of the user's may run in between.
      const seq = calls.map((c) => c.action);
      expect(seq.filter((a) => a === 'CreateAccessKey')).toHaveLength(4);
      expect(seq.filter((a) => a === 'ChangePassword')).toHaveLength(4);
      for (let i = seq.indexOf('CreateAccessKey'); i >= 0; i = seq.indexOf('CreateAccessKey', i + 1)) {
        const end = seq.indexOf('UpdateAccessKey', i);
        expect(end).toBeGreaterThan(i);
        expect(seq.slice(i, end + 1).filter((a) => a === 'ChangePassword')).toEqual([]);
      }
      // No call of the user failed (the optional calls its policy leaves out aside): a password change never used a key a rotation had just inactivated.
      const optional = new Set(['GetUser', 'GetAccountPasswordPolicy', 'SimulatePrincipalPolicy']);
      expect(calls.filter((c) => c.errorCode && !(c.errorCode === 'AccessDenied' && optional.has(c.action)))).toEqual([]);
      expect(aws.emu.getPassword(u.name)).toBe((await ops.value(u.passwordId)).password);
      expect(await aws.whoAmI(await ops.value<Creds>(u.keyId))).toBe(`arn:aws:iam::${aws.accountId}:user/${u.name}`);
    }, 400_000);

    it('SIGKILL of a worker mid-rotation: the other workers resume it once its lease lapses; the scheduler runs through the pooler too', async () => {
      const u = await keyAndPasswordOfOneUser();
      const doomed = await procs.start('rotation-worker', { KEYTURN_TEST_CRASH_AT: 'create:after-aws' });
      const rotationId = await ops.rotate(u.keyId);
      await new Promise<void>((resolve) => (doomed.child.exitCode !== null || doomed.child.signalCode !== null ? resolve() : doomed.child.once('exit', () => resolve())));
      expect(doomed.child.signalCode).toBe('SIGKILL');
      procs.forget(doomed);
      await Promise.all([procs.start('rotation-worker'), procs.start('rotation-worker')]);
      const rot = await ops.finished(rotationId, 120_000);
      expect({ status: rot.status, errorCode: rot.errorCode, step: rot.step }).toEqual({ status: 'succeeded', errorCode: null, step: 'done' });
      const now = await ops.value<Creds>(u.keyId);
      expect(now.accessKeyId).not.toBe(u.key.accessKeyId);
      expect(await aws.whoAmI(now)).toBe(`arn:aws:iam::${aws.accountId}:user/${u.name}`);
      // The key the dead worker created and stored as pending is the one promoted: IAM holds no orphan.
      expect((await aws.keys(u.name)).map((k) => k.id).sort()).toEqual([now.accessKeyId, u.key.accessKeyId].sort());
      // The scheduler through the pooler too: a due key's heartbeat is claimed, enqueued and checked. (The rotation's
      // verify step counted as the new key's heartbeat, so the key is made due here rather than an interval later.)
      const db = await rawDb(t);
      try {
        await db.query(`UPDATE heartbeat_due SET due_at = now() WHERE secret_id = $1`, [u.keyId]);
        await procs.start('heartbeat-scheduler', { KEYTURN_SCHEDULER_TICK_MS: '500' });
        await eventually(async () => {
          const { rows } = await db.query(`SELECT 1 FROM heartbeats WHERE secret_id = $1 AND trigger = 'schedule' AND status = 'done' AND outcome = 'success' AND created_at > $2`, [u.keyId, rot.finishedAt]);
          return rows.length > 0;
        }, 60_000);
      } finally {
        await db.end();
      }
    }, 300_000);

    it('a worker whose pool exceeds Postgres’s max_connections starts behind the pooler (KEYTURN_DB_POOLER=transaction), and is refused without it', async () => {
      const { rows } = await direct.query(`SELECT current_setting('max_connections')::int AS max`);
      // 2 × concurrency + 2 above what Postgres accepts: only a pooler can serve it.
      const concurrency = String(Math.min(256, Math.ceil(rows[0].max / 2) + 10));
      const big = await procs.start('rotation-worker', { KEYTURN_WORKER_CONCURRENCY: concurrency });
      expect(big.output()).toMatch(/ready: connected/);
      const refused: SpawnedApp = spawnApp('rotation-worker', { ...t.env, ...aws.env, ...WORKER_ENV, KEYTURN_WORKER_CONCURRENCY: concurrency, KEYTURN_DB_POOLER: 'none' });
      const code = await new Promise<number | null>((resolve) => refused.child.once('exit', (c) => resolve(c)));
      expect({ code, output: refused.output() }).toEqual({ code: 78, output: expect.stringMatching(/max_connections[\s\S]*KEYTURN_DB_POOLER=transaction/) });
    }, 120_000);
  });
});
