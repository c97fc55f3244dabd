/**
 * Issue 15, discovery runs and findings: a real worker process scans the
 * emulator's account over HTTP with the real AWS SDK, through the paced IAM
 * client; the API serves the run and its findings.
 */
import { DISCOVERY_PAGE_SIZE } from '@keyturn/rotation';
import type { SeedUserSpec, SeededUser } from '../iam-emulator/src/index.js';
import { AwsFixture } from './aws-fixture.js';
import { operatorCli } from './cli-run.js';
import { newWebhookSecret, webhookReceiver, type WebhookReceiver } from './webhook-receiver.js';
import { Processes, WORKER_ENV, vaultOps } from './vault-ops.js';
import { client, createApiKey, createTestEnv, eventually, rawDb, startApi, type Client, type RunningApi, type SpawnedApp, type TestEnv } from './harness.js';

const DAY = 86_400_000;
const USERS = 250;
const mask = (id: string) => `${id.slice(0, 4)}…${id.slice(-4)}`;

type Expected = Record<string, unknown> & {
  userName: string;
  userId: string;
  maskedAccessKeyId: string;
  status: string;
  createdAt: string;
  lastUsed: { date: string; service: string; region: string } | null;
  hasConsolePassword: boolean;
  managed: boolean;
  managedBy: string | null;
};

/** What the API shows of a finding, without the ids that differ from run to run. */
const comparable = (f: Record<string, unknown>): Record<string, unknown> => {
  const { id: _id, discoveryId: _d, ageDays: _a, ...rest } = f;
  return rest;
};
const byKey = (a: Record<string, unknown>, b: Record<string, unknown>) =>
  `${String(a.userName)} ${String(a.maskedAccessKeyId)}`.localeCompare(`${String(b.userName)} ${String(b.maskedAccessKeyId)}`);

describe('discovery runs and findings (worker + emulator over HTTP)', () => {
  let aws: AwsFixture;
  let hooks: WebhookReceiver;
  let t: TestEnv;
  let api: RunningApi;
  let admin: Client;
  const procs = new Processes(() => ({ ...t.env, ...aws.env, ...WORKER_ENV }));
  const ops = vaultOps(() => admin, () => aws.accountId);
  /** Fast enough for 250 users; the SIGKILL test slows the account down to kill mid-run. */
  const FAST = { KEYTURN_AWS_RATE_PER_ACCOUNT: '400' };

  let executor: string;
  let seeded: SeededUser[];
  const expected: Expected[] = [];
  // AWS dates are whole seconds.
  const now = Math.floor(Date.now() / 1000) * 1000;

  const policy = (actions: string[]) => ({
    Version: '2012-10-17',
    Statement: [{ Effect: 'Allow', Action: actions, Resource: `arn:aws:iam::${aws.accountId}:user/*` }],
  });
  const DOCUMENTED = ['iam:ListUsers', 'iam:ListAccessKeys', 'iam:GetAccessKeyLastUsed', 'iam:GetLoginProfile'];

  async function executorSecret(name: string, actions: string[], folder = '/e2e'): Promise<string> {
    const [u] = aws.emu.seedUsers([{ userName: name, path: '/executors/', policies: { discovery: policy(actions) }, keys: 1 }]);
    return ops.keySecret(name, u!.keys[0]!, { folder });
  }

  async function startRun(body: Record<string, unknown>, c: Client = admin): Promise<string> {
    const r = await c.post('/v1/discoveries', body);
    expect({ status: r.status, body: r.body }).toMatchObject({ status: 202, body: { status: 'queued', phase: 'list-users', usersScanned: 0 } });
    expect(r.headers.get('location')).toBe(`/v1/discoveries/${r.body.id}`);
    return r.body.id;
  }

  async function finished(id: string, timeoutMs = 180_000): Promise<any> {
    return eventually(async () => {
      const r = await admin.get(`/v1/discoveries/${id}`);
      return r.body.status === 'succeeded' || r.body.status === 'failed' ? r.body : null;
    }, timeoutMs, 300);
  }

  /** Every finding of a run, page by page. */
  async function allFindings(id: string, query = '', c: Client = admin, limit = 37): Promise<any[]> {
    const out: any[] = [];
    let cursor: string | null = null;
    do {
      const r: { status: number; body: any } = await c.get(`/v1/discoveries/${id}/findings?limit=${limit}${query}${cursor ? `&cursor=${cursor}` : ''}`);
      expect(r.status).toBe(200);
      out.push(...r.body.items);
      cursor = r.body.nextCursor;
    } while (cursor);
    return out;
  }

  beforeAll(async () => {
    aws = await AwsFixture.start();
    hooks = await webhookReceiver();
    t = await createTestEnv({ KEYTURN_WEBHOOK_URLS: hooks.url, KEYTURN_WEBHOOK_SECRET: newWebhookSecret() });
    api = await startApi(t);
    admin = client(api.url, t.adminToken);
    executor = await executorSecret('discoverer', DOCUMENTED);

    // 250 users under /disc/: 0, 1 or 2 keys, every fourth with a console password, some keys
    // used (service and region recorded), keys of different ages, one inactive key in five.
    const specs: SeedUserSpec[] = Array.from({ length: USERS }, (_, i) => ({
      userName: `disc-${String(i).padStart(3, '0')}`,
      path: i % 7 === 0 ? '/disc/team/' : '/disc/',
      ...(i % 4 === 0 ? { password: `Pw-${i}-aaaaaaaaaaaa1!` } : {}),
      keys: Array.from({ length: i % 3 }, (_k, j) => ({
        status: (i + j) % 5 === 0 ? ('Inactive' as const) : ('Active' as const),
        createDate: new Date(now - ((i * 3 + j * 50) % 400) * DAY).toISOString(),
        ...((i + j) % 2 === 0 ? { lastUsed: { date: new Date(now - ((i + j) % 90) * DAY).toISOString(), serviceName: j ? 'sts' : 'iam', region: j ? 'eu-west-1' : 'us-east-1' } } : {}),
      })),
    }));
    seeded = aws.emu.seedUsers(specs);
    // Outside the prefix: never found by a run over /disc/.
    aws.emu.seedUsers([{ userName: 'elsewhere', path: '/other/', keys: 2 }]);

    // Some keys are already Keyturn's: every tenth user's first key, one of them in a folder of its own.
    const managedBy = new Map<string, string>();
    for (const [i, u] of seeded.entries()) {
      if (i % 10 !== 1 || !u.keys.length) continue;
      managedBy.set(u.keys[0]!.accessKeyId, await ops.keySecret(u.userName, u.keys[0]!, { folder: i === 1 ? '/private' : '/e2e' }));
    }
    for (const [i, u] of seeded.entries()) {
      const spec = specs[i]!;
      for (const [j, k] of u.keys.entries()) {
        const ks = (spec.keys as { status: string; createDate: string; lastUsed?: { date: string; serviceName: string; region: string } }[])[j]!;
        expected.push({
          userName: u.userName,
          userId: u.userId,
          maskedAccessKeyId: mask(k.accessKeyId),
          status: ks.status,
          createdAt: new Date(ks.createDate).toISOString(),
          lastUsed: ks.lastUsed ? { date: new Date(ks.lastUsed.date).toISOString(), service: ks.lastUsed.serviceName, region: ks.lastUsed.region } : null,
          hasConsolePassword: i % 4 === 0,
          managed: managedBy.has(k.accessKeyId),
          managedBy: managedBy.get(k.accessKeyId) ?? null,
        });
      }
    }
    expected.sort(byKey);
  }, 120_000);
  afterAll(async () => {
    await procs.stopAll();
    await api?.close();
    await t?.drop();
    await aws?.close();
    await hooks?.close();
  });
  afterEach(async () => {
    await procs.stopAll();
  });

  let firstRun: string;
  let firstFindings: any[];

  it('one run finds exactly the account’s keys under the prefix, across ListUsers pages, with managed links and last use', async () => {
    expect(USERS).toBeGreaterThan(2 * DISCOVERY_PAGE_SIZE); // three ListUsers pages at least
    await procs.start('rotation-worker', FAST);
    firstRun = await startRun({ executorSecretId: executor, pathPrefix: '/disc/' });
    const run = await finished(firstRun);
    const managed = expected.filter((e) => e.managed).length;
    expect(run).toMatchObject({
      status: 'succeeded',
      phase: 'done',
      usersTotal: USERS,
      usersScanned: USERS,
      keysFound: expected.length,
      managed,
      unmanaged: expected.length - managed,
      warnings: [],
      errorCode: null,
      trigger: 'api',
      executorSecretId: executor,
      pathPrefix: '/disc/',
    });
    firstFindings = await allFindings(firstRun);
    expect(firstFindings.map(comparable).sort(byKey)).toEqual(expected);
    for (const f of firstFindings) {
      expect(f.ageDays).toBe(Math.floor((Date.now() - Date.parse(f.createdAt)) / DAY));
      // The id is masked; no key id, no secret anywhere in a finding.
      expect(JSON.stringify(f)).not.toMatch(/AKIA[A-Z0-9]{16}/);
    }
    const db = await rawDb(t);
    const { rows } = await db.query(`SELECT count(*)::int AS n, count(DISTINCT user_name)::int AS d FROM discovery_users WHERE run_id = $1`, [firstRun]);
    await db.end();
    expect(rows[0]).toEqual({ n: USERS, d: USERS });

    // The run is announced (outbox) and audited.
    const events = await (async () => {
      const c = await rawDb(t);
      const r = await c.query(`SELECT type, payload FROM events WHERE type = 'discovery.completed' AND payload->>'discoveryId' = $1`, [firstRun]);
      const a = await c.query(`SELECT action, outcome FROM audit_events WHERE target_id = $1 ORDER BY at`, [firstRun]);
      await c.end();
      return { events: r.rows, audit: a.rows };
    })();
    expect(events.events).toEqual([
      {
        type: 'discovery.completed',
        payload: expect.objectContaining({ status: 'succeeded', usersTotal: USERS, usersScanned: USERS, keysFound: expected.length, managed, unmanaged: expected.length - managed, errorCode: null }),
      },
    ]);
    expect(events.audit).toEqual([
      { action: 'discovery.request', outcome: 'success' },
      { action: 'discovery.completed', outcome: 'success' },
    ]);
  }, 300_000);

  it('filters findings: managed, olderThanDays, unusedForDays (never used counts), hasConsolePassword', async () => {
    const pick = async (q: string) => (await allFindings(firstRun, q, admin, 100)).map(comparable).sort(byKey);
    expect(await pick('&managed=true')).toEqual(expected.filter((e) => e.managed));
    expect(await pick('&managed=false')).toEqual(expected.filter((e) => !e.managed));
    expect(await pick('&hasConsolePassword=true')).toEqual(expected.filter((e) => e.hasConsolePassword));
    expect(await pick('&hasConsolePassword=false&managed=false')).toEqual(expected.filter((e) => !e.hasConsolePassword && !e.managed));
    // Seeded ages are whole days ago: 100 or more days at the time of the query.
    expect(await pick('&olderThanDays=100')).toEqual(expected.filter((e) => Date.parse(e.createdAt) <= Date.now() - 100 * DAY));
    expect(await pick('&unusedForDays=30')).toEqual(expected.filter((e) => !e.lastUsed || Date.parse(e.lastUsed.date) <= Date.now() - 30 * DAY));
    expect((await pick('&unusedForDays=30')).some((e) => e.lastUsed === null)).toBe(true);
  });

  it('a SIGKILLed worker’s run resumes where it stopped: the same findings, no user scanned twice', async () => {
    // Slow enough to be caught mid-scan: ~3 calls per user at 40 calls/s.
    const slow = { KEYTURN_AWS_RATE_PER_ACCOUNT: '40' };
    const first = await procs.start('rotation-worker', slow);
    const id = await startRun({ executorSecretId: executor, pathPrefix: '/disc/' });
    const mid = await eventually(async () => {
      const r = (await admin.get(`/v1/discoveries/${id}`)).body;
      return r.usersScanned > 0 && r.usersScanned < USERS / 2 ? r : null;
    }, 120_000, 100);
    expect(mid).toMatchObject({ status: 'running', phase: 'scan-users', usersTotal: USERS });
    await first.kill('SIGKILL');
    const killedAt = new Date();
    procs.forget(first);
    const atKill = (await admin.get(`/v1/discoveries/${id}`)).body.usersScanned;
    expect(atKill).toBeLessThan(USERS);

    await procs.start('rotation-worker', FAST);
    const run = await finished(id);
    expect(run).toMatchObject({ status: 'succeeded', usersTotal: USERS, usersScanned: USERS, keysFound: expected.length });
    expect((await allFindings(id)).map(comparable).sort(byKey)).toEqual(firstFindings.map(comparable).sort(byKey));
    const db = await rawDb(t);
    const { rows } = await db.query(
      `SELECT attempt, (SELECT count(*)::int FROM discovery_users WHERE run_id = $1) AS users,
              (SELECT count(DISTINCT key_id_hmac)::int FROM discovery_findings WHERE run_id = $1) AS keys
         FROM discovery_runs WHERE id = $1`,
      [id],
    );
    await db.end();
    // Taken over once (at least), and resumed: the users scanned before the kill were not scanned again.
    expect(rows[0]).toEqual({ attempt: expect.any(Number), users: USERS, keys: expected.length });
    expect(rows[0].attempt).toBeGreaterThanOrEqual(2);
    // After the kill, each user left is listed once: none of those scanned before it again.
    const perUser = new Map<string, number>();
    for (const c of aws.emu.callLog()) {
      if (c.action === 'ListAccessKeys' && c.time > killedAt && c.userName) perUser.set(c.userName, (perUser.get(c.userName) ?? 0) + 1);
    }
    expect(perUser.size).toBe(USERS - atKill);
    expect([...perUser.values()].every((n) => n === 1)).toBe(true);
  }, 300_000);

  it('an executor without iam:ListUsers fails the run naming the action; without the optional calls it warns and goes on', async () => {
    aws.emu.seedUsers([
      { userName: 'small-a', path: '/small/', password: 'Pw-small-aaaaaaaa1!', keys: [{ lastUsed: { serviceName: 'iam', region: 'us-east-1' } }] },
      { userName: 'small-b', path: '/small/', keys: 2 },
    ]);
    await procs.start('rotation-worker', FAST);
    const noList = await executorSecret('no-list', DOCUMENTED.filter((a) => a !== 'iam:ListUsers'));
    const failed = await finished(await startRun({ executorSecretId: noList, pathPrefix: '/small/' }));
    expect(failed).toMatchObject({ status: 'failed', errorCode: 'IAM_ACCESS_DENIED', usersScanned: 0, keysFound: 0 });
    expect(failed.errorMessage).toContain('iam:ListUsers');

    const noKeys = await executorSecret('no-list-keys', DOCUMENTED.filter((a) => a !== 'iam:ListAccessKeys'));
    const failedKeys = await finished(await startRun({ executorSecretId: noKeys, pathPrefix: '/small/' }));
    expect(failedKeys).toMatchObject({ status: 'failed', errorCode: 'IAM_ACCESS_DENIED' });
    expect(failedKeys.errorMessage).toContain('iam:ListAccessKeys');

    const minimal = await executorSecret('list-only', ['iam:ListUsers', 'iam:ListAccessKeys']);
    const degraded = await finished(await startRun({ executorSecretId: minimal, pathPrefix: '/small/' }));
    expect(degraded).toMatchObject({ status: 'succeeded', usersTotal: 2, usersScanned: 2, keysFound: 3 });
    expect(degraded.warnings.map((w: { code: string; action: string }) => [w.code, w.action]).sort()).toEqual([
      ['DISCOVERY_CALL_DENIED', 'iam:GetAccessKeyLastUsed'],
      ['DISCOVERY_CALL_DENIED', 'iam:GetLoginProfile'],
    ]);
    for (const f of await allFindings(degraded.id)) expect(f).toMatchObject({ lastUsed: null, hasConsolePassword: null });

    const full = await finished(await startRun({ executorSecretId: executor, pathPrefix: '/small/' }));
    expect(full).toMatchObject({ status: 'succeeded', keysFound: 3, warnings: [] });
    const a = (await allFindings(full.id)).filter((f) => f.userName === 'small-a');
    expect(a).toEqual([expect.objectContaining({ hasConsolePassword: true, lastUsed: expect.objectContaining({ service: 'iam', region: 'us-east-1' }) })]);
  }, 300_000);

  it('scoped callers: runs through their executor’s folder, managedBy only for secrets in their folders', async () => {
    const inE2e = client(api.url, (await createApiKey(admin, 'viewer', { folderScopes: ['/e2e'] })).token);
    const elsewhere = client(api.url, (await createApiKey(admin, 'viewer', { folderScopes: ['/nowhere'] })).token);
    expect((await inE2e.get(`/v1/discoveries/${firstRun}`)).status).toBe(200);
    const seen = await allFindings(firstRun, '&managed=true', inE2e, 100);
    const hidden = expected.filter((e) => e.managed && !seen.some((f) => f.managedBy === e.managedBy));
    // The one key held by a secret in /private: managed, but not named.
    expect(hidden).toHaveLength(1);
    expect(seen.filter((f) => f.managedBy === null)).toEqual([expect.objectContaining({ managed: true, maskedAccessKeyId: hidden[0]!.maskedAccessKeyId })]);
    expect((await admin.get(`/v1/discoveries/${firstRun}/findings?managed=true&limit=500`)).body.items.every((f: { managedBy: string | null }) => f.managedBy)).toBe(true);

    const r = await elsewhere.get(`/v1/discoveries/${firstRun}`);
    expect({ status: r.status, code: r.body.code }).toEqual({ status: 404, code: 'DISCOVERY_NOT_FOUND' });
    expect((await elsewhere.get(`/v1/discoveries/${firstRun}/findings`)).body.code).toBe('DISCOVERY_NOT_FOUND');
    expect((await elsewhere.get('/v1/discoveries')).body).toEqual({ items: [], nextCursor: null });
    const listed = (await inE2e.get('/v1/discoveries?limit=500')).body.items.map((x: { id: string }) => x.id);
    expect(listed).toContain(firstRun);

    // The list pages by cursor.
    const one = (await admin.get('/v1/discoveries?limit=1')).body;
    expect(one.items).toHaveLength(1);
    const two = (await admin.get(`/v1/discoveries?limit=1&cursor=${one.nextCursor}`)).body;
    expect(two.items[0].id > one.items[0].id).toBe(true);
  });

  it('bad input: a clear 4xx with the exact code, no run recorded, nothing sent to AWS', async () => {
    const password = await ops.passwordSecret('discoverer', 'Initial-Passw0rd!', { privilegedSecretId: executor });
    const scopedOperator = client(api.url, (await createApiKey(admin, 'operator', { folderScopes: ['/nowhere'] })).token);
    const viewer = client(api.url, (await createApiKey(admin, 'viewer')).token);
    const db = await rawDb(t);
    const runs = async () => (await db.query(`SELECT count(*)::int AS n FROM discovery_runs`)).rows[0].n;
    const before = await runs();
    aws.emu.clearCallLog();
    const cases: [Client, unknown, number, string][] = [
      [admin, { executorSecretId: password }, 422, 'DISCOVERY_EXECUTOR_WRONG_TYPE'],
      [admin, { executorSecretId: '0193a1b2-0000-7000-8000-000000000001' }, 404, 'SECRET_NOT_FOUND'],
      [scopedOperator, { executorSecretId: executor }, 404, 'SECRET_NOT_FOUND'],
      [admin, { executorSecretId: executor, pathPrefix: 'disc/' }, 400, 'INVALID_IAM_PATH'],
      [admin, { executorSecretId: executor, pathPrefix: '/disc' }, 400, 'INVALID_IAM_PATH'],
      [admin, { executorSecretId: executor, pathPrefix: '/a b/' }, 400, 'INVALID_IAM_PATH'],
      [admin, { executorSecretId: executor, pathPrefix: '' }, 400, 'INVALID_IAM_PATH'],
      [admin, { executorSecretId: executor, pathPrefix: `/${'a'.repeat(511)}/` }, 400, 'VALIDATION_FAILED'],
      [admin, { executorSecretId: 'nope' }, 400, 'VALIDATION_FAILED'],
      [admin, { executorSecretId: executor, extra: 1 }, 400, 'UNKNOWN_FIELD'],
      [viewer, { executorSecretId: executor }, 403, 'FORBIDDEN'],
    ];
    for (const [c, body, status, code] of cases) {
      const r = await c.post('/v1/discoveries', body);
      expect({ body, status: r.status, code: r.body.code }).toEqual({ body, status, code });
    }
    const reads: [string, number, string][] = [
      [`/v1/discoveries/${firstRun}/findings?olderThanDays=-1`, 400, 'VALIDATION_FAILED'],
      [`/v1/discoveries/${firstRun}/findings?unusedForDays=x`, 400, 'VALIDATION_FAILED'],
      [`/v1/discoveries/${firstRun}/findings?managed=yes`, 400, 'VALIDATION_FAILED'],
      [`/v1/discoveries/${firstRun}/findings?hasConsolePassword=1`, 400, 'VALIDATION_FAILED'],
      [`/v1/discoveries/${firstRun}/findings?limit=0`, 400, 'VALIDATION_FAILED'],
      [`/v1/discoveries/${firstRun}/findings?cursor=bm90LWEtdXVpZA`, 400, 'INVALID_CURSOR'],
      [`/v1/discoveries/${firstRun}/findings?color=red`, 400, 'UNKNOWN_FIELD'],
      ['/v1/discoveries?cursor=zzz', 400, 'INVALID_CURSOR'],
      ['/v1/discoveries/not-a-uuid', 400, 'INVALID_ID'],
      ['/v1/discoveries/0193a1b2-0000-7000-8000-000000000001', 404, 'DISCOVERY_NOT_FOUND'],
      // A finding of another run is not one of this run.
      [`/v1/discoveries/${(await admin.get('/v1/discoveries?limit=500')).body.items.at(-1).id}/findings/${firstFindings[0].id}`, 404, 'DISCOVERY_FINDING_NOT_FOUND'],
    ];
    for (const [path, status, code] of reads) {
      const r = await admin.get(path);
      expect({ path, status: r.status, code: r.body.code }).toEqual({ path, status, code });
    }
    expect((await admin.get(`/v1/discoveries/${firstRun}/findings/${firstFindings[0].id}`)).body).toEqual(firstFindings[0]);
    expect(await runs()).toBe(before);
    await db.end();
    expect(aws.emu.callLog()).toEqual([]);
  });

  it('the scheduler exports the latest succeeded run as metrics and delivers discovery.completed webhooks', async () => {
    const scheduler: SpawnedApp = await procs.start('heartbeat-scheduler');
    const m = /ops endpoints: (http:\/\/[^\s"]+)\/health\/live/.exec(scheduler.output());
    expect(m).not.toBeNull();
    const runs = (await admin.get('/v1/discoveries?limit=500')).body.items.filter((r: { status: string }) => r.status === 'succeeded');
    const latest = runs.sort((a: { finishedAt: string }, b: { finishedAt: string }) => a.finishedAt.localeCompare(b.finishedAt)).at(-1);
    const findings = await allFindings(latest.id, '', admin, 100);
    const kinds = new Map<string, number>();
    for (const f of findings) kinds.set(`managed="${f.managed}",status="${f.status}"`, (kinds.get(`managed="${f.managed}",status="${f.status}"`) ?? 0) + 1);
    const unmanaged = findings.filter((f) => !f.managed).map((f) => Date.parse(f.createdAt));
    const before = Date.now();
    const text = await (await fetch(`${m![1]}/metrics`)).text();
    const after = Date.now();
    const samples = text.split('\n').filter((l) => l.startsWith('keyturn_discovered_keys{'));
    expect(samples.map((l) => l.replace(/,?app="[^"]*"/, '').replace(/^keyturn_discovered_keys\{(.*)\} (\d+)$/, '$1 $2')).sort()).toEqual([...kinds].map(([k, n]) => `${k} ${n}`).sort());
    // Labels carry no key id, user name or run id.
    expect(samples.join('\n')).not.toMatch(/AKIA|disc-|small-|[0-9a-f]{8}-[0-9a-f]{4}/);
    const age = Number(/^keyturn_oldest_unmanaged_key_age_seconds(?:\{[^}]*\})? (\S+)$/m.exec(text)![1]);
    const oldest = Math.min(...unmanaged);
    expect(age).toBeGreaterThanOrEqual((before - oldest) / 1000 - 1);
    expect(age).toBeLessThanOrEqual((after - oldest) / 1000 + 1);

    // Every run's outcome reaches the webhook, with its counts and never a key: the failed runs' too, so the
    // wait is for every finished run (waiting for as many deliveries as succeeded runs could stop short of the
    // failed ones' deliveries).
    const finished = (await admin.get('/v1/discoveries?limit=500')).body.items.filter((r: { status: string }) => r.status === 'succeeded' || r.status === 'failed');
    const delivered = await eventually(async () => {
      const got = hooks.received.filter((d) => d.body?.type === 'discovery.completed');
      return got.length >= finished.length ? got : null;
    }, 60_000);
    const first = delivered.find((d) => d.body.data.discoveryId === firstRun);
    expect(first!.body.data).toMatchObject({ status: 'succeeded', usersTotal: USERS, keysFound: expected.length, managed: expected.filter((e) => e.managed).length });
    for (const d of delivered) expect(d.raw).not.toMatch(/AKIA[A-Z0-9]{16}/);
    const failed = hooks.received.filter((d) => d.body?.type === 'discovery.completed' && d.body.data.status === 'failed');
    expect(failed.map((d) => d.body.data.errorCode)).toEqual(['IAM_ACCESS_DENIED', 'IAM_ACCESS_DENIED']);
  }, 120_000);

  it('KEYTURN_DISCOVERY_SCHEDULE: two scheduler replicas start one run per fire time, through the configured executor and prefix', async () => {
    await procs.start('rotation-worker', FAST);
    const schedule = { KEYTURN_DISCOVERY_SCHEDULE: '* * * * *', KEYTURN_DISCOVERY_EXECUTOR_SECRET_ID: executor, KEYTURN_DISCOVERY_PATH_PREFIX: '/small/', KEYTURN_SCHEDULER_TICK_MS: '500' };
    await procs.start('heartbeat-scheduler', schedule);
    await procs.start('heartbeat-scheduler', schedule);
    // The next minute boundary fires; the run then goes through the worker.
    const run = await eventually(async () => {
      const items = (await admin.get('/v1/discoveries?limit=500')).body.items.filter((r: { trigger: string }) => r.trigger === 'schedule');
      return items.length && items[0].status === 'succeeded' ? items[0] : null;
    }, 150_000, 500);
    expect(run).toMatchObject({ executorSecretId: executor, pathPrefix: '/small/', requestedBy: 'system:scheduler', keysFound: 3, usersTotal: 2 });
    const db = await rawDb(t);
    const { rows } = await db.query(
      `SELECT count(*)::int AS runs, count(DISTINCT scheduled_for)::int AS fire_times, bool_and(extract(second FROM scheduled_for) = 0) AS on_the_minute
         FROM discovery_runs WHERE trigger = 'schedule'`,
    );
    await db.end();
    expect(rows[0].runs).toBe(rows[0].fire_times);
    expect(rows[0].on_the_minute).toBe(true);
  }, 240_000);

  // Last: its runs (one failed) would change the counts the scheduler's metrics and webhooks test expects.
  it('the CLI: discoveries run --wait shows progress; show, list and findings (filters, pages, --all) print the run; usage errors exit 2, a refused or failed run exits 1 with its code', async () => {
    await procs.start('rotation-worker', FAST);
    const cli = operatorCli(api.url, t.adminToken);
    const ago = (d: number) => new Date(now - d * DAY).toISOString();
    const [a, b, c] = aws.emu.seedUsers([
      { userName: 'cli-a', path: '/cli/', password: 'Pw-cli-aaaaaaaaaa1!', keys: [{ createDate: ago(200), lastUsed: { date: ago(3), serviceName: 'iam', region: 'us-east-1' } }] },
      { userName: 'cli-b', path: '/cli/', keys: [{ createDate: ago(10) }, { createDate: ago(400), status: 'Inactive' }] },
      { userName: 'cli-c', path: '/cli/', keys: [{ createDate: ago(50) }] },
    ]);
    const cManagedBy = await ops.keySecret('cli-c', c!.keys[0]!, { folder: '/e2e' });

    const run = await cli(['discoveries', 'run', '--executor', executor, '--path-prefix', '/cli/', '--wait']);
    expect([run.code, run.stderr]).toEqual([0, '']);
    const lines = run.stdout.trimEnd().split('\n');
    const runId = /^discovery ([0-9a-f-]{36})$/.exec(lines[0]!)?.[1];
    expect(runId).toBeDefined();
    const progress = lines.slice(1, -1);
    for (const l of progress) expect(l).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ {2}(queued|running|succeeded) +(list-users|scan-users|done) +users \d+ of (\d+|\?)$/);
    expect(progress.at(-1)).toMatch(/ succeeded +done +users 3 of 3$/);
    expect(lines.at(-1)).toBe(`discovery ${runId} succeeded: 3 users, 4 keys (1 managed, 3 unmanaged)`);

    const shown = await cli(['discoveries', 'show', runId!, '--json']);
    expect([shown.code, JSON.parse(shown.stdout)]).toEqual([0, (await admin.get(`/v1/discoveries/${runId}`)).body]);
    const plain = await cli(['discoveries', 'show', runId!]);
    expect(plain.stdout).toContain('users:        3 scanned of 3\n');
    expect(plain.stdout).toContain('keys:         4 (1 managed, 3 unmanaged)\n');
    const listed = await cli(['discoveries', 'list', '--json']);
    expect(JSON.parse(listed.stdout).map((d: { id: string }) => d.id)).toContain(runId);

    // The table: one row per key, cells two spaces apart; the key id masked, never whole.
    const rows = (out: string) => out.trimEnd().split('\n').map((l) => l.split(/ {2,}/));
    const when = (iso: string) => iso.replace('T', ' ').replace(/\.\d+Z$/, 'Z');
    const row = (user: string, key: string, status: string, age: number, lastUsed: string, password: string, managedBy: string) => [
      expect.stringMatching(/^[0-9a-f-]{36}$/), user, mask(key), status, String(age), lastUsed, password, managedBy,
    ];
    const A = row('cli-a', a!.keys[0]!.accessKeyId, 'Active', 200, `${when(ago(3))} iam us-east-1`, 'yes', '-');
    const B1 = row('cli-b', b!.keys[0]!.accessKeyId, 'Active', 10, 'never', 'no', '-');
    const B2 = row('cli-b', b!.keys[1]!.accessKeyId, 'Inactive', 400, 'never', 'no', '-');
    const C = row('cli-c', c!.keys[0]!.accessKeyId, 'Active', 50, 'never', 'no', cManagedBy);
    const byUserAndAge = (x: string[], y: string[]) => `${x[1]} ${x[4]!.padStart(4)}`.localeCompare(`${y[1]} ${y[4]!.padStart(4)}`);
    const findings = async (...args: string[]) => {
      const r = await cli(['discoveries', 'findings', runId!, ...args]);
      expect([r.code, r.stderr]).toEqual([0, '']);
      const [header, ...body] = rows(r.stdout);
      expect(header).toEqual(['FINDING', 'USER', 'KEY', 'STATUS', 'AGE (DAYS)', 'LAST USED', 'CONSOLE PASSWORD', 'MANAGED BY']);
      expect(r.stdout).not.toMatch(/AKIA[A-Z0-9]{16}/);
      return body;
    };
    expect((await findings()).sort(byUserAndAge)).toEqual([A, B1, B2, C]);
    expect((await findings('--managed', 'false', '--older-than-days', '100')).sort(byUserAndAge)).toEqual([A, B2]);
    expect(await findings('--has-console-password', 'true')).toEqual([A]);
    expect((await findings('--unused-for-days', '5')).sort(byUserAndAge)).toEqual([B1, B2, C]);
    expect(await findings('--managed', 'true')).toEqual([C]);
    // One page, and a line that says there are more; --all follows the cursor to the end.
    const firstPage = await findings('--managed', 'false', '--limit', '1');
    expect(firstPage).toEqual([expect.any(Array), [expect.stringMatching(/^more: --all/)]]);
    expect((await findings('--managed', 'false', '--limit', '1', '--all')).sort(byUserAndAge)).toEqual([A, B1, B2]);
    const json = await cli(['discoveries', 'findings', runId!, '--limit', '2', '--all', '--json']);
    expect(JSON.parse(json.stdout).map(comparable).sort(byKey)).toEqual((await allFindings(runId!)).map(comparable).sort(byKey));

    // Usage errors (exit 2): nothing asked of the API.
    const badChoice = await cli(['discoveries', 'findings', runId!, '--managed', 'maybe']);
    expect([badChoice.code, badChoice.stderr.split('\n')[0]]).toEqual([2, "error: option '--managed <bool>' argument 'maybe' is invalid. Allowed choices are true, false."]);
    const noExecutor = await cli(['discoveries', 'run', '--wait']);
    expect([noExecutor.code, noExecutor.stderr.split('\n')[0]]).toEqual([2, "error: required option '--executor <secretId>' not specified"]);
    const notId = await cli(['discoveries', 'findings', 'run-1']);
    expect([notId.code, notId.stderr]).toEqual([2, 'keyturn: not an id: run-1\n']);
    const badDays = await cli(['discoveries', 'findings', runId!, '--older-than-days', '-1']);
    expect([badDays.code, badDays.stderr]).toEqual([2, 'keyturn: --older-than-days must be a whole number from 0 to 36500\n']);
    const adoptUsage = await cli(['discoveries', 'adopt', runId!, runId!]);
    expect([adoptUsage.code, adoptUsage.stderr.split('\n')[0]]).toEqual([2, "error: required option '--name <name>' not specified"]);

    // The API refuses (exit 1, its code); a run that fails (exit 1, the run's code and message).
    const badPrefix = await cli(['discoveries', 'run', '--executor', executor, '--path-prefix', 'cli']);
    expect([badPrefix.code, badPrefix.stderr]).toEqual([1, expect.stringMatching(/^keyturn: INVALID_IAM_PATH: /)]);
    const noList = await executorSecret('cli-no-list', DOCUMENTED.filter((x) => x !== 'iam:ListUsers'));
    const failed = await cli(['discoveries', 'run', '--executor', noList, '--path-prefix', '/cli/', '--wait']);
    const failedId = /^discovery ([0-9a-f-]{36})$/m.exec(failed.stdout)?.[1];
    const failedRun = (await admin.get(`/v1/discoveries/${failedId}`)).body;
    expect(failedRun).toMatchObject({ status: 'failed', errorCode: 'IAM_ACCESS_DENIED' });
    expect(failedRun.errorMessage).toContain('iam:ListUsers');
    expect([failed.code, failed.stderr]).toEqual([1, `keyturn: discovery ${failedId} failed: IAM_ACCESS_DENIED: ${failedRun.errorMessage}\n`]);
    expect(failed.stdout.trimEnd().split('\n').at(-1)).toMatch(/ failed +list-users +users 0 of \?$/);
  }, 300_000);
});
