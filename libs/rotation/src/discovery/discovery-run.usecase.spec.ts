import { IamErrorCode, SecretType } from '@keyturn/contracts';
import type { DiscoveriesRepository, SecretEntity } from '@keyturn/store';
import { CONFIG, WorkerWorld, fakeCipher, iamErrors } from '../../../../test/unit-fakes/worker.fixture.js';
import { FakeDiscoveries } from '../../../../test/unit-fakes/discoveries.fake.js';
import { DiscoveryRunUseCase } from './discovery-run.usecase.js';

// The discovery run's journal (docs/architecture.md, "Discovery"): it pages
// ListUsers into discovery_users, scans each listed user once, and a run
// taken over after a crash resumes from the phase, marker and users recorded,
// never from the start. Over the in-memory store and IAM of test/unit-fakes.

interface World {
  w: WorkerWorld;
  d: FakeDiscoveries;
  executor: SecretEntity;
  run: DiscoveryRunUseCase;
}

function world(users = 5): World {
  const w = new WorkerWorld();
  const exec = w.iam.addUser('scanner', { keys: 1 });
  const executor = w.keySecret('scanner', exec.keys[0]!);
  for (let i = 0; i < users; i++) w.iam.addUser(`u${i}`, { keys: i % 3, ...(i % 2 ? { password: 'pw' } : {}) });
  const d = new FakeDiscoveries(w.clock, w.store);
  const run = new DiscoveryRunUseCase(d as unknown as DiscoveriesRepository, w.journal, w.iam, fakeCipher, CONFIG, w.clock);
  run.pageSize = 2;
  return { w, d, executor, run };
}

/** The findings of a run as [user, masked key, managed] (ids and order aside). */
const found = (d: FakeDiscoveries, runId: string) =>
  (d.findings.get(runId) ?? []).map((f) => [f.userName, f.accessKeyIdMasked, f.managedSecretId !== null, f.hasConsolePassword] as const).sort();

describe('DiscoveryRunUseCase', () => {
  it('pages ListUsers, scans every user once, links managed keys, announces and audits the outcome', async () => {
    const { w, d, executor, run } = world(5);
    const managed = w.keySecret('u2', w.iam.user('u2').keys[0]!);
    w.iam.lastUsed.set(w.iam.user('u1').keys[0]!.accessKeyId, { date: new Date(1_000), serviceName: 'sts', region: 'eu-west-1' });
    const r = d.addRun({ executorSecretId: executor.id });

    expect(await run.execute(r.id)).toEqual({ kind: 'done' });

    expect(d.runs.get(r.id)).toMatchObject({ status: 'succeeded', phase: 'done', usersTotal: 6, usersScanned: 6, leaseOwner: null, warnings: [] });
    // 6 users (with the executor) in pages of 2: three ListUsers calls, the last without a marker after it.
    expect(w.iam.callsOf('listUsers')).toEqual(['scanner /', 'scanner / 2', 'scanner / 4']);
    expect(w.iam.callsOf('listAccessKeys').map((c) => c.split(' ')[1]).sort()).toEqual(['scanner', 'u0', 'u1', 'u2', 'u3', 'u4']);
    const f = d.findings.get(r.id)!;
    expect(f).toHaveLength(1 + 0 + 1 + 2 + 0 + 1);
    expect(f.find((x) => x.userName === 'u1')).toMatchObject({ lastUsedAt: new Date(1_000), lastUsedService: 'sts', lastUsedRegion: 'eu-west-1', hasConsolePassword: true });
    expect(f.filter((x) => x.managedSecretId).map((x) => [x.userName, x.managedSecretId]).sort()).toEqual([
      ['scanner', executor.id],
      ['u2', managed.id],
    ]);
    // The key id itself is never stored: masked, and the blind index under the active KEK.
    for (const { keyIdHmac: _h, ...rest } of f) expect(JSON.stringify(rest)).not.toMatch(/AKIA\d{16}/);
    const ids = [...w.iam.users.values()].flatMap((u) => u.keys.map((k) => k.accessKeyId));
    expect(f.map((x) => x.keyIdHmac).sort()).toEqual(ids.map((id) => fakeCipher.accessKeyIdIndexes(id)[0]).sort());
    const [event] = w.store.t.events;
    expect(w.store.t.events).toHaveLength(1);
    expect(event).toMatchObject({ type: 'discovery.completed', payload: { discoveryId: r.id, status: 'succeeded', keysFound: 5, managed: 2, unmanaged: 3, usersTotal: 6 } });
    expect(w.store.t.audit).toEqual([expect.objectContaining({ action: 'discovery.completed', outcome: 'success', targetId: r.id })]);
  });

  it('resumes a run killed while listing from its next marker, keeping the pages already recorded', async () => {
    const a = world(5);
    const r = a.d.addRun({ executorSecretId: a.executor.id });
    // A first worker recorded page 1 and died (its lease lapses).
    await a.d.claim(r.id, 'dead-worker', 1_000);
    await a.d.recordUsersPage(r.id, 'dead-worker', [{ userName: 'scanner', userId: 'AIDASCANNER', userArn: 'arn:aws:iam::111111111111:user/scanner', userPath: '/', userCreatedAt: null }, { userName: 'u0', userId: 'AIDAU0', userArn: 'arn:aws:iam::111111111111:user/u0', userPath: '/', userCreatedAt: null }], '2');
    a.w.clock.advance(2_000);

    expect(await a.run.execute(r.id)).toEqual({ kind: 'done' });
    expect(a.w.iam.callsOf('listUsers')).toEqual(['scanner / 2', 'scanner / 4']);
    expect(a.d.runs.get(r.id)).toMatchObject({ status: 'succeeded', usersTotal: 6, usersScanned: 6, attempt: 2 });

    const b = world(5);
    const full = b.d.addRun({ executorSecretId: b.executor.id });
    await b.run.execute(full.id);
    expect(found(a.d, r.id).map(([u, , m, p]) => [u, m, p])).toEqual(found(b.d, full.id).map(([u, , m, p]) => [u, m, p]));
  });

  it('resumes a run killed while scanning with the users left, never scanning one twice', async () => {
    const { w, d, executor, run } = world(5);
    const r = d.addRun({ executorSecretId: executor.id });
    // First attempt: lists everything, scans two users, then AWS becomes unreachable (a retryable failure).
    const scanned: string[] = [];
    const realList = w.iam.listAccessKeys.bind(w.iam);
    w.iam.listAccessKeys = async (creds, userName) => {
      scanned.push(userName);
      if (scanned.length === 3) throw iamErrors.unreachable('listAccessKeys');
      return realList(creds, userName);
    };
    const first = await run.execute(r.id);
    expect(first).toMatchObject({ kind: 'later' });
    expect(d.runs.get(r.id)).toMatchObject({ status: 'running', phase: 'scan-users', usersTotal: 6, usersScanned: 2, leaseOwner: null });

    expect(await run.execute(r.id)).toEqual({ kind: 'done' });
    expect(d.runs.get(r.id)).toMatchObject({ status: 'succeeded', usersScanned: 6, attempt: 2 });
    // The third user was asked twice (its scan never committed); the two before it once.
    expect(scanned).toEqual(['scanner', 'u0', 'u1', 'u1', 'u2', 'u3', 'u4']);
    expect(w.iam.callsOf('listUsers')).toHaveLength(3);
  });

  it('a run whose lease another worker holds waits; a finished run is left alone', async () => {
    const { w, d, executor, run } = world(1);
    const r = d.addRun({ executorSecretId: executor.id });
    await d.claim(r.id, 'other-worker', 30_000);
    expect(await run.execute(r.id)).toMatchObject({ kind: 'later', reason: 'another worker holds the discovery lease' });
    expect(w.iam.calls).toEqual([]);
    const done = d.addRun({ executorSecretId: executor.id, status: 'succeeded', phase: 'done' });
    expect(await run.execute(done.id)).toEqual({ kind: 'done' });
    expect(w.iam.calls).toEqual([]);
  });

  it('a denied ListUsers fails the run naming the action; a denied optional call warns once and is not made again', async () => {
    const a = world(3);
    a.w.iam.denied.add('listUsers');
    const r = a.d.addRun({ executorSecretId: a.executor.id });
    expect(await a.run.execute(r.id)).toEqual({ kind: 'done' });
    expect(a.d.runs.get(r.id)).toMatchObject({ status: 'failed', errorCode: IamErrorCode.AccessDenied, usersScanned: 0 });
    expect(a.d.runs.get(r.id)!.errorMessage).toContain('iam:ListUsers');
    expect(a.w.store.t.events[0]).toMatchObject({ type: 'discovery.completed', payload: { status: 'failed', errorCode: IamErrorCode.AccessDenied } });
    expect(a.w.store.t.audit).toEqual([expect.objectContaining({ action: 'discovery.failed', outcome: 'failure' })]);

    const b = world(3);
    b.w.iam.denied.add('getLoginProfile');
    const r2 = b.d.addRun({ executorSecretId: b.executor.id });
    expect(await b.run.execute(r2.id)).toEqual({ kind: 'done' });
    expect(b.d.runs.get(r2.id)).toMatchObject({ status: 'succeeded', usersScanned: 4 });
    expect(b.d.runs.get(r2.id)!.warnings.map((x) => [x.code, x.action])).toEqual([['DISCOVERY_CALL_DENIED', 'iam:GetLoginProfile']]);
    expect(b.w.iam.callsOf('getLoginProfile')).toHaveLength(1);
    for (const f of b.d.findings.get(r2.id)!) expect(f.hasConsolePassword).toBeNull();
  });

  it('an executor that was deleted fails the run without calling AWS', async () => {
    const { w, d, run } = world(1);
    const r = d.addRun({ executorSecretId: null });
    expect(await run.execute(r.id)).toEqual({ kind: 'done' });
    expect(d.runs.get(r.id)).toMatchObject({ status: 'failed', errorCode: 'DISCOVERY_EXECUTOR_UNAVAILABLE' });
    const pw = w.store.addSecret({ type: SecretType.AwsIamConsolePassword, username: 'x' });
    const r2 = d.addRun({ executorSecretId: pw.id });
    await run.execute(r2.id);
    expect(d.runs.get(r2.id)).toMatchObject({ status: 'failed', errorCode: 'DISCOVERY_EXECUTOR_UNAVAILABLE' });
    expect(w.iam.calls).toEqual([]);
  });

  it('a user deleted between the listing and its scan is scanned as having no keys', async () => {
    const { w, d, executor, run } = world(2);
    const r = d.addRun({ executorSecretId: executor.id });
    const realList = w.iam.listUsers.bind(w.iam);
    w.iam.listUsers = async (creds, opts) => {
      const page = await realList(creds, opts);
      if (!page.marker) w.iam.users.delete('u1');
      return page;
    };
    expect(await run.execute(r.id)).toEqual({ kind: 'done' });
    expect(d.runs.get(r.id)).toMatchObject({ status: 'succeeded', usersTotal: 3, usersScanned: 3 });
    expect(d.findings.get(r.id)!.some((f) => f.userName === 'u1')).toBe(false);
  });
});
