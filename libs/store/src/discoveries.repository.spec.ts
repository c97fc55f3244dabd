import type { DataSource } from 'typeorm';
import { DiscoveriesRepository, uuidv7, type NewDiscoveryFinding } from '@keyturn/store';
import { migratedDataSource, throwawayDatabase } from '../../../test/unit-fakes/pg-database.js';

// Real Postgres (the machine's), in a database of this run's own: the journal
// rules a resumed discovery run relies on are SQL, so they are proved on SQL.

const user = (n: number) => ({ userName: `u${String(n).padStart(3, '0')}`, userId: `AIDA${n}`, userArn: `arn:aws:iam::123456789012:user/u${n}`, userPath: '/', userCreatedAt: null });
const finding = (n: number, over: Partial<NewDiscoveryFinding> = {}): NewDiscoveryFinding => ({
  userName: `u${String(n).padStart(3, '0')}`,
  userId: `AIDA${n}`,
  userArn: `arn:aws:iam::123456789012:user/u${n}`,
  accessKeyIdMasked: `AKIA…${String(n).padStart(4, '0')}`,
  keyIdHmac: `hmac-${n}`,
  keyStatus: 'Active',
  keyCreatedAt: new Date('2026-01-01T00:00:00Z'),
  lastUsedAt: null,
  lastUsedService: null,
  lastUsedRegion: null,
  hasConsolePassword: false,
  managedSecretId: null,
  ...over,
});

describe('DiscoveriesRepository (Postgres)', () => {
  const database = throwawayDatabase('discovery');
  const url = database.url;
  let ds: DataSource;
  let repo: DiscoveriesRepository;
  let executorId: string;

  beforeAll(async () => {
    await database.create();
    ds = await migratedDataSource(url);
    repo = new DiscoveriesRepository(ds.manager);
    executorId = uuidv7();
    await ds.query(
      `INSERT INTO secrets (id, type, name, folder, account_id, username, settings, version_counter)
       VALUES ($1, 'aws-iam-key', 'exec', '/team-a', '123456789012', 'exec', '{}', 1)`,
      [executorId],
    );
  });
  afterAll(async () => {
    await ds?.destroy();
    await database.drop();
  });

  const newRun = async () => (await repo.createRun({ executorSecretId: executorId, pathPrefix: '/', trigger: 'api', requestedBy: 'test' }))!;

  it('one scheduled run per fire time: a second replica firing the same time makes none', async () => {
    const at = new Date('2026-03-01T03:00:00Z');
    const fire = () => repo.createRun({ executorSecretId: executorId, pathPrefix: '/', trigger: 'schedule', requestedBy: 'system:scheduler', scheduledFor: at });
    const [a, b] = await Promise.all([fire(), fire()]);
    expect([a, b].filter(Boolean)).toHaveLength(1);
    expect(await fire()).toBeNull();
    expect((await repo.createRun({ executorSecretId: executorId, pathPrefix: '/', trigger: 'schedule', requestedBy: 'x', scheduledFor: new Date(at.getTime() + 60_000) }))).not.toBeNull();
  });

  it('a run is claimed by one worker at a time; a lapsed lease is taken over', async () => {
    const run = await newRun();
    expect(run).toMatchObject({ status: 'queued', phase: 'list-users', usersScanned: 0, usersTotal: null, warnings: [] });
    expect(await repo.claim(run.id, 'w1', 60_000)).toMatchObject({ status: 'running', leaseOwner: 'w1' });
    expect(await repo.claim(run.id, 'w2', 60_000)).toBeNull();
    await ds.query(`UPDATE discovery_runs SET lease_until = now() - interval '1 second' WHERE id = $1`, [run.id]);
    expect(await repo.claim(run.id, 'w2', 60_000)).toMatchObject({ leaseOwner: 'w2' });
    // w1 lost its lease: its writes change nothing.
    expect(await repo.recordUsersPage(run.id, 'w1', [user(1)], 'm1')).toBe(false);
    expect(await repo.renewLease(run.id, 'w1', 60_000)).toBe(false);
    expect(await repo.finish(run.id, 'w1', 'succeeded')).toBe(false);
    expect(await repo.usersOf(run.id)).toEqual([]);
  });

  it('pages of users are journaled: a page recorded twice adds nothing, the last page ends the listing', async () => {
    const run = await newRun();
    await repo.claim(run.id, 'w1', 60_000);
    expect(await repo.recordUsersPage(run.id, 'w1', [user(1), user(2)], 'm1')).toBe(true);
    expect(await repo.getRun(run.id)).toMatchObject({ phase: 'list-users', nextMarker: 'm1', usersTotal: null });
    expect(await repo.recordUsersPage(run.id, 'w1', [user(2), user(3)], 'm2')).toBe(true);
    expect(await repo.recordUsersPage(run.id, 'w1', [user(4)], null)).toBe(true);
    expect(await repo.getRun(run.id)).toMatchObject({ phase: 'scan-users', nextMarker: null, usersTotal: 4 });
    // No more pages once the listing ended.
    expect(await repo.recordUsersPage(run.id, 'w1', [user(5)], null)).toBe(false);
    expect((await repo.unscannedUsers(run.id, 10)).map((u) => u.userName)).toEqual(['u001', 'u002', 'u003', 'u004']);
  });

  it('a user scanned twice counts once and its keys are stored once', async () => {
    const run = await newRun();
    await repo.claim(run.id, 'w1', 60_000);
    await repo.recordUsersPage(run.id, 'w1', [user(1), user(2)], null);
    expect(await repo.recordUserScan(run.id, 'w1', 'u001', true, [finding(1), finding(11, { userName: 'u001' })])).toBe(true);
    expect(await repo.recordUserScan(run.id, 'w1', 'u001', true, [finding(1), finding(11, { userName: 'u001' })])).toBe(true);
    expect(await repo.getRun(run.id)).toMatchObject({ usersScanned: 1 });
    expect((await repo.unscannedUsers(run.id, 10)).map((u) => u.userName)).toEqual(['u002']);
    expect(await repo.findingsOfUser(run.id, 'u001')).toHaveLength(2);
    expect(await repo.counts(run.id)).toEqual({ keys: 2, managed: 0, unmanaged: 2 });
  });

  it('a warning is recorded once per code and action', async () => {
    const run = await newRun();
    const w = { at: new Date().toISOString(), code: 'DISCOVERY_CALL_DENIED', action: 'iam:GetLoginProfile', message: 'denied' };
    const w2 = { ...w, action: 'iam:GetAccessKeyLastUsed' };
    await repo.addWarning(run.id, w);
    await repo.addWarning(run.id, { ...w, at: new Date().toISOString() });
    await repo.addWarning(run.id, w2);
    await repo.addWarning(run.id, w2);
    expect((await repo.getRun(run.id))!.warnings).toEqual([w, w2]);
  });

  it('finish records the outcome and releases the lease', async () => {
    const run = await newRun();
    await repo.claim(run.id, 'w1', 60_000);
    expect(await repo.finish(run.id, 'w1', 'failed', { code: 'DISCOVERY_ACCESS_DENIED', message: 'iam:ListUsers denied' })).toBe(true);
    expect(await repo.getRun(run.id)).toMatchObject({ status: 'failed', leaseOwner: null, errorCode: 'DISCOVERY_ACCESS_DENIED' });
    expect(await repo.claim(run.id, 'w2', 60_000)).toBeNull();
  });

  it('findings filter by managed, age, use and console password, in keyset pages', async () => {
    const run = await newRun();
    await repo.claim(run.id, 'w1', 60_000);
    await repo.recordUsersPage(run.id, 'w1', [user(1), user(2), user(3)], null);
    const now = new Date('2026-06-01T00:00:00Z');
    await repo.recordUserScan(run.id, 'w1', 'u001', true, [finding(1, { managedSecretId: executorId, hasConsolePassword: true })]);
    await repo.recordUserScan(run.id, 'w1', 'u002', false, [finding(2, { keyCreatedAt: new Date('2026-05-30T00:00:00Z'), lastUsedAt: new Date('2026-05-31T00:00:00Z') })]);
    await repo.recordUserScan(run.id, 'w1', 'u003', false, [finding(3, { lastUsedAt: new Date('2026-01-02T00:00:00Z') })]);
    const users = async (f: Parameters<DiscoveriesRepository['listFindings']>[1]) => (await repo.listFindings(run.id, f)).map((x) => x.userName);
    expect(await users({ limit: 10, now, managed: true })).toEqual(['u001']);
    expect(await users({ limit: 10, now, managed: false })).toEqual(['u002', 'u003']);
    expect(await users({ limit: 10, now, hasConsolePassword: true })).toEqual(['u001']);
    expect(await users({ limit: 10, now, olderThanDays: 30 })).toEqual(['u001', 'u003']);
    expect(await users({ limit: 10, now, unusedForDays: 30 })).toEqual(['u001', 'u003']);
    const first = await repo.listFindings(run.id, { limit: 2, now });
    expect(first).toHaveLength(3); // one more than the limit: there is a next page
    expect(await users({ limit: 2, now, afterId: first[1].id })).toEqual(['u003']);
    expect(await repo.finish(run.id, 'w1', 'succeeded')).toBe(true);
    expect(await repo.getRun(run.id)).toMatchObject({ status: 'succeeded', phase: 'done', leaseOwner: null });
  });

  it('lists runs visible through the executor secret folder', async () => {
    const all = await repo.listRuns({ limit: 100, scopes: [] });
    expect(all.length).toBeGreaterThan(0);
    expect(await repo.listRuns({ limit: 100, scopes: ['/team-a'] })).toHaveLength(all.length);
    expect(await repo.listRuns({ limit: 100, scopes: ['/team-b'] })).toEqual([]);
  });
});
