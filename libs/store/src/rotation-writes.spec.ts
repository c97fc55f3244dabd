import { DataSource } from 'typeorm';
import {
  EventsRepository,
  LeaseLocks,
  RotationsRepository,
  SETTING_VALUE_SQL,
  SecretVersionsRepository,
  SecretsRepository,
  dataSourceOptions,
  type FinishAnnouncement,
  repositoriesOf,
  rowsOf,
  uuidv7,
} from '@keyturn/store';
import { migratedDataSource, throwawayDatabase } from '../../../test/unit-fakes/pg-database.js';

// Real Postgres (the machine's), in a database of this run's own: the statements a rotation's run makes in
// place of a write followed by a read (or two reads) return what the read returned.

describe('rotation statements that return what a second statement read (Postgres)', () => {
  const database = throwawayDatabase('rotwrites');
  let ds: DataSource;
  let rotations: RotationsRepository;
  let secrets: SecretsRepository;
  let versions: SecretVersionsRepository;

  beforeAll(async () => {
    await database.create();
    ds = await migratedDataSource(database.url);
    rotations = new RotationsRepository(ds.manager);
    secrets = new SecretsRepository(ds.manager);
    versions = new SecretVersionsRepository(ds.manager);
  });
  afterAll(async () => {
    await ds?.destroy();
    await database.drop();
  });

  /** The IAM-user lock a run asks for with its claim (one per rotation here, so none is ever busy). */
  const lockFor = (rotationId: string) => ({ key: `iam-user:test:${rotationId}`, owner: 'w1:run' });

  /** An announcement as the runner makes it (RotationRunner.announcement), for a finish of `x`'s rotation. */
  function announcement(x: { rotationId: string; secretId: string }, status: 'succeeded' | 'failed', urls: string[] = [], code: string | null = null): FinishAnnouncement {
    return {
      event: {
        id: uuidv7(),
        type: status === 'succeeded' ? 'rotation.succeeded' : 'rotation.failed',
        payload: { rotationId: x.rotationId, secretId: x.secretId, status, errorCode: code },
        urls,
        deliveryIds: urls.map(() => uuidv7()),
        at: new Date(),
      },
      audit: {
        id: uuidv7(), at: new Date(), actorId: 'system:rotation-worker', actorName: 'rotation-worker', action: `rotation.${status}`, targetType: 'rotation',
        targetId: x.rotationId, secretId: x.secretId, outcome: status === 'succeeded' ? 'success' : 'failure', errorCode: code, requestId: null, ip: null, details: {},
      },
    };
  }

  /** A key secret with versions in `states` (version n+1 for the nth) and a queued rotation. */
  async function subject(states: string[] = ['current']): Promise<{ secretId: string; rotationId: string; versionIds: string[] }> {
    const secretId = uuidv7();
    const rotationId = uuidv7();
    await ds.query(
      `INSERT INTO secrets (id, type, name, folder, account_id, username, settings, version_counter)
       VALUES ($1, 'aws-iam-key', $2, '/', '123456789012', 'alice', '{"previousKeyGraceSeconds": 60}', $3)`,
      [secretId, `s-${secretId}`, states.length],
    );
    const versionIds: string[] = [];
    for (const [i, state] of states.entries()) {
      const id = uuidv7();
      versionIds.push(id);
      await ds.query(`INSERT INTO secret_versions (id, secret_id, version, state, kek_id, wrapped_key, fields) VALUES ($1, $2, $3, $4, 'k1', 'w', '{"accessKeyId": {"c": "x"}}')`, [
        id,
        secretId,
        i + 1,
        state,
      ]);
    }
    await ds.query(`INSERT INTO rotations (id, secret_id, secret_type, status, step, requested_by) VALUES ($1, $2, 'aws-iam-key', 'queued', 'prepare', 'test')`, [rotationId, secretId]);
    return { secretId, rotationId, versionIds };
  }

  it('getWithSecret reads what get and the secret read do, in one statement; null when the rotation is gone', async () => {
    const x = await subject();
    expect(await rotations.getWithSecret(x.rotationId)).toEqual({ rotation: await rotations.get(x.rotationId), secret: await secrets.get(x.secretId) });
    expect(await rotations.getWithSecret(uuidv7())).toBeNull();
  });

  it('inGrace finds the other rotations of the secret whose retire is owed', async () => {
    const x = await subject();
    const owed = uuidv7();
    const retired = uuidv7();
    await ds.query(
      `INSERT INTO rotations (id, secret_id, secret_type, status, step, requested_by, retire_pending, retire_at, retired_at)
       VALUES ($1, $3, 'aws-iam-key', 'succeeded', 'retire', 'test', true, now(), NULL), ($2, $3, 'aws-iam-key', 'succeeded', 'done', 'test', true, now(), now())`,
      [owed, retired, x.secretId],
    );
    await ds.query(`UPDATE rotations SET retire_pending = true, retire_at = now() WHERE id = $1`, [x.rotationId]);
    expect(await rotations.inGrace(x.secretId, x.rotationId)).toEqual([await rotations.get(owed)]);
    expect((await rotations.inGrace(x.secretId, owed)).map((r) => r.id)).toEqual([x.rotationId]);
    // The state read for a rotation says whether inGrace would find any.
    expect((await secrets.withLiveVersions(x.secretId, x.rotationId))?.othersInGrace).toBe(true);
    expect((await secrets.withLiveVersions(x.secretId, owed))?.othersInGrace).toBe(true);
    expect((await secrets.withLiveVersions(x.secretId))?.othersInGrace).toBeNull();
    await ds.query(`UPDATE rotations SET retired_at = now() WHERE id = $1`, [owed]);
    expect(await rotations.inGrace(x.secretId, x.rotationId)).toEqual([]);
    expect((await secrets.withLiveVersions(x.secretId, x.rotationId))?.othersInGrace).toBe(false);
    expect((await secrets.withLiveVersions(x.secretId, owed))?.othersInGrace).toBe(true);
    const alone = await subject();
    expect((await secrets.withLiveVersions(alone.secretId, alone.rotationId))?.othersInGrace).toBe(false);
  });

  it('claim returns the claimed row, as a read after it finds it', async () => {
    const x = await subject();
    const res = await rotations.claim(x.rotationId, 'w1', 60_000, lockFor(x.rotationId));
    if (!res.claimed) throw new Error(`not claimed: ${JSON.stringify(res)}`);
    expect(res.rotation).toMatchObject({ id: x.rotationId, status: 'running', leaseOwner: 'w1', attempt: 1 });
    expect(res.rotation).toEqual(await rotations.get(x.rotationId));
  });

  describe('claim under a lease lock, in one statement (the IAM user lock of a run)', () => {
    const locks = () => new LeaseLocks(ds);
    const lockOf = async (key: string) => (await ds.query(`SELECT owner FROM lease_locks WHERE lock_key = $1`, [key]))[0]?.owner ?? null;

    it('the lock free: both taken; the claimed row is what a read after it finds', async () => {
      const x = await subject();
      const key = `iam-user:test:${x.rotationId}`;
      const res = await rotations.claim(x.rotationId, 'w1', 60_000, { key, owner: 'w1:run' });
      if (!res.claimed) throw new Error(`not claimed: ${JSON.stringify(res)}`);
      expect(res.rotation).toMatchObject({ id: x.rotationId, status: 'running', leaseOwner: 'w1', attempt: 1 });
      expect(res.rotation).toEqual(await rotations.get(x.rotationId));
      expect(await lockOf(key)).toBe('w1:run');
      // LeaseLocks sees it as its own: renewable by its owner, not takeable by another.
      expect(await locks().renew(key, 'w1:run', 60_000)).toBe(true);
      expect(await locks().tryTake(key, 'other', 60_000)).toBe(false);
    });

    it("another owner's lock: busy 'user', nothing claimed, the lock still theirs", async () => {
      const x = await subject();
      const key = `iam-user:test:${x.rotationId}`;
      expect(await locks().tryTake(key, 'other', 60_000)).toBe(true);
      expect(await rotations.claim(x.rotationId, 'w1', 60_000, { key, owner: 'w1:run' })).toEqual({ claimed: false, busy: 'user' });
      expect(await rotations.get(x.rotationId)).toMatchObject({ status: 'queued', attempt: 0, leaseOwner: null });
      expect(await lockOf(key)).toBe('other');
    });

    it("a lapsed lock is taken, as tryTake takes it", async () => {
      const x = await subject();
      const key = `iam-user:test:${x.rotationId}`;
      await ds.query(`INSERT INTO lease_locks (lock_key, owner, expires_at) VALUES ($1, 'dead', now() - interval '1 second')`, [key]);
      expect((await rotations.claim(x.rotationId, 'w1', 60_000, { key, owner: 'w1:run' })).claimed).toBe(true);
      expect(await lockOf(key)).toBe('w1:run');
    });

    it("another rotation of the secret running (rotations_one_running): busy 'secret', and no lock taken", async () => {
      const x = await subject();
      const other = uuidv7();
      await ds.query(`INSERT INTO rotations (id, secret_id, secret_type, status, step, requested_by) VALUES ($1, $2, 'aws-iam-key', 'running', 'verify', 'test')`, [other, x.secretId]);
      const key = `iam-user:test:${x.rotationId}`;
      expect(await rotations.claim(x.rotationId, 'w1', 60_000, { key, owner: 'w1:run' })).toEqual({ claimed: false, busy: 'secret' });
      expect(await lockOf(key)).toBeNull();
    });

    it('the lease held by another worker: not claimed (busy lease), the lock taken, for the caller to release', async () => {
      const x = await subject();
      await ds.query(`UPDATE rotations SET status = 'running', lease_owner = 'w2', lease_expires_at = now() + interval '1 minute' WHERE id = $1`, [x.rotationId]);
      const key = `iam-user:test:${x.rotationId}`;
      const res = await rotations.claim(x.rotationId, 'w1', 60_000, { key, owner: 'w1:run' });
      expect(res).toMatchObject({ claimed: false, busy: 'lease', now: { id: x.rotationId, leaseOwner: 'w2' } });
      expect(await lockOf(key)).toBe('w1:run');
    });
  });

  it('finish returns the row as it was before and the current version; a recorded finish time is kept', async () => {
    const x = await subject(['previous', 'current']);
    const first = new Date('2026-11-28T10:00:00.000Z');
    await rotations.claim(x.rotationId, 'w1', 60_000, lockFor(x.rotationId));
    await ds.query(`UPDATE rotations SET retire_pending = true, retire_at = $2 WHERE id = $1`, [x.rotationId, first]);
    const before = await rotations.get(x.rotationId);

    const done = await rotations.finish(x.rotationId, 'succeeded', first, { code: 'X', message: 'ignored on success' }, announcement(x, 'succeeded'));
    expect(done).toEqual({ before, currentVersion: 2, announced: true });
    expect(await rotations.get(x.rotationId)).toMatchObject({ status: 'succeeded', leaseOwner: null, leaseExpiresAt: null, finishedAt: first, errorCode: null, errorMessage: null });

    // The retire owed, then a failure: the first finish time stays, the error is recorded, `before` says succeeded.
    const again = await rotations.finish(x.rotationId, 'failed', new Date(first.getTime() + 60_000), { code: 'E', message: 'm' }, announcement(x, 'failed', [], 'E'));
    expect(again?.before).toMatchObject({ status: 'succeeded', finishedAt: first, retirePending: true, retireAt: first });
    expect(await rotations.get(x.rotationId)).toMatchObject({ status: 'failed', finishedAt: first, errorCode: 'E', errorMessage: 'm' });
  });

  it('finish of a rotation that is gone returns null and writes nothing; of a secret without a current version, version null', async () => {
    const gone = { rotationId: uuidv7(), secretId: uuidv7() };
    const ann = announcement(gone, 'failed', ['https://a.example/hook'], 'E');
    expect(await rotations.finish(gone.rotationId, 'failed', new Date(), { code: 'E', message: 'm' }, ann)).toBeNull();
    expect(await ds.query(`SELECT (SELECT count(*)::int FROM events WHERE id = $1) AS events, (SELECT count(*)::int FROM audit_events WHERE id = $2) AS audit`, [ann.event.id, ann.audit.id])).toEqual([
      { events: 0, audit: 0 },
    ]);
    const x = await subject([]);
    expect((await rotations.finish(x.rotationId, 'failed', new Date(), { code: 'E', message: 'm' }, announcement(x, 'failed', [], 'E')))?.currentVersion).toBeNull();
  });

  it('finish announces news only: the event completed from the locked row, a delivery per URL and the audit entry', async () => {
    const x = await subject(['previous', 'current']);
    const retireAt = new Date('2026-11-28T10:00:00.123Z');
    await rotations.claim(x.rotationId, 'w1', 60_000, lockFor(x.rotationId));
    await ds.query(`UPDATE rotations SET mode = 'privileged', retire_pending = true, retire_at = $2 WHERE id = $1`, [x.rotationId, retireAt]);
    const urls = ['https://a.example/hook', 'https://b.example/hook'];
    const ann = announcement(x, 'succeeded', urls);

    expect(await rotations.finish(x.rotationId, 'succeeded', new Date(), { code: null, message: null }, ann)).toMatchObject({ announced: true, currentVersion: 2 });
    // What RotationRunner.recordOutcome writes for the same row, in a transaction of its own.
    expect(await ds.query(`SELECT type, secret_id, payload FROM events WHERE id = $1`, [ann.event.id])).toEqual([
      {
        type: 'rotation.succeeded',
        secret_id: x.secretId,
        payload: { rotationId: x.rotationId, secretId: x.secretId, secretType: 'aws-iam-key', status: 'succeeded', mode: 'privileged', errorCode: null, version: 2, previousKeyRetireAt: retireAt.toISOString() },
      },
    ]);
    const deliveries = await ds.query(`SELECT id, url, status, attempts, next_attempt_at FROM webhook_deliveries WHERE event_id = $1 ORDER BY url`, [ann.event.id]);
    expect(deliveries).toEqual(urls.map((url, i) => ({ id: ann.event.deliveryIds[i], url, status: 'pending', attempts: 0, next_attempt_at: ann.event.at })));
    const [audit] = await ds.query(`SELECT * FROM audit_events WHERE id = $1`, [ann.audit.id]);
    expect(audit).toMatchObject({ action: 'rotation.succeeded', outcome: 'success', target_id: x.rotationId, secret_id: x.secretId, details: { mode: 'privileged', attempt: 1 } });

    // Finished as it already was (its retire was owed): nothing announced again.
    const again = announcement(x, 'succeeded', urls);
    expect(await rotations.finish(x.rotationId, 'succeeded', new Date(), { code: null, message: null }, again)).toMatchObject({ announced: false });
    expect(await ds.query(`SELECT (SELECT count(*)::int FROM events WHERE id = $1) AS events, (SELECT count(*)::int FROM audit_events WHERE id = $2) AS audit`, [again.event.id, again.audit.id])).toEqual([
      { events: 0, audit: 0 },
    ]);

    // A failure says no version and no retire time.
    const y = await subject(['current']);
    await rotations.claim(y.rotationId, 'w1', 60_000, lockFor(y.rotationId));
    const failed = announcement(y, 'failed', [], 'E');
    expect(await rotations.finish(y.rotationId, 'failed', new Date(), { code: 'E', message: 'm' }, failed)).toMatchObject({ announced: true });
    expect((await ds.query(`SELECT payload FROM events WHERE id = $1`, [failed.event.id]))[0].payload).toEqual({
      rotationId: y.rotationId, secretId: y.secretId, secretType: 'aws-iam-key', status: 'failed', mode: null, errorCode: 'E', version: null, previousKeyRetireAt: null,
    });
  });

  it('finish and its announcement are all or nothing: an insert that fails leaves the rotation unfinished', async () => {
    const x = await subject(['current']);
    await rotations.claim(x.rotationId, 'w1', 60_000, lockFor(x.rotationId));
    const ann = announcement(x, 'succeeded');
    // An audit id already taken: the audit insert fails, after the finish's update in the same statement.
    await ds.query(`INSERT INTO audit_events (id, actor_id, actor_name, action, outcome) VALUES ($1, 'x', 'x', 'x', 'success')`, [ann.audit.id]);
    await expect(rotations.finish(x.rotationId, 'succeeded', new Date(), { code: null, message: null }, ann)).rejects.toMatchObject({ code: '23505', constraint: 'audit_events_pkey' });
    expect(await rotations.get(x.rotationId)).toMatchObject({ status: 'running', leaseOwner: 'w1', finishedAt: null });
    expect(await ds.query(`SELECT count(*)::int AS n FROM events WHERE id = $1`, [ann.event.id])).toEqual([{ n: 0 }]);
  });

  describe("finish releasing the run's lease lock, in the same statement", () => {
    const lockOf = async (key: string) => (await ds.query(`SELECT owner FROM lease_locks WHERE lock_key = $1`, [key]))[0]?.owner ?? null;

    it("the finish, and the lock gone if it is the owner's; another owner's lock is left alone", async () => {
      const x = await subject(['current']);
      const key = `iam-user:test:${x.rotationId}`;
      await rotations.claim(x.rotationId, 'w1', 60_000, { key, owner: 'w1:run' });
      const done = await rotations.finish(x.rotationId, 'succeeded', new Date(), { code: null, message: null }, announcement(x, 'succeeded'), { key, owner: 'w1:run' });
      expect(done).toMatchObject({ announced: true });
      expect(await rotations.get(x.rotationId)).toMatchObject({ status: 'succeeded', leaseOwner: null });
      expect(await lockOf(key)).toBeNull();

      const y = await subject(['current']);
      const other = `iam-user:test:${y.rotationId}`;
      await new LeaseLocks(ds).tryTake(other, 'someone-else', 60_000);
      await rotations.claim(y.rotationId, 'w1', 60_000, { key: `${other}:own`, owner: 'w1:run' });
      await rotations.finish(y.rotationId, 'succeeded', new Date(), { code: null, message: null }, announcement(y, 'succeeded'), { key: other, owner: 'w1:run' });
      expect(await lockOf(other)).toBe('someone-else');
    });

    it('all or nothing: a finish that fails keeps the lock too', async () => {
      const x = await subject(['current']);
      const key = `iam-user:test:${x.rotationId}`;
      await rotations.claim(x.rotationId, 'w1', 60_000, { key, owner: 'w1:run' });
      const ann = announcement(x, 'succeeded');
      await ds.query(`INSERT INTO audit_events (id, actor_id, actor_name, action, outcome) VALUES ($1, 'x', 'x', 'x', 'success')`, [ann.audit.id]);
      await expect(rotations.finish(x.rotationId, 'succeeded', new Date(), { code: null, message: null }, ann, { key, owner: 'w1:run' })).rejects.toMatchObject({
        code: '23505',
        constraint: 'audit_events_pkey',
      });
      expect(await lockOf(key)).toBe('w1:run');
    });
  });

  it('aboutToCreate journals the create step and retires the version make-room deleted the key of, in one statement', async () => {
    const x = await subject(['previous', 'current']);
    const claimed = await rotations.claim(x.rotationId, 'w1', 60_000, lockFor(x.rotationId));
    if (!claimed.claimed) throw new Error('not claimed');
    const at = new Date('2026-11-29T10:00:00.000Z');
    await rotations.aboutToCreate(claimed.rotation, at, x.versionIds[0]!);
    expect(claimed.rotation).toMatchObject({ step: 'create', aboutToCreateAt: at });
    expect(await rotations.get(x.rotationId)).toMatchObject({ step: 'create', aboutToCreateAt: at });
    expect(await ds.query(`SELECT version, state FROM secret_versions WHERE secret_id = $1 ORDER BY version`, [x.secretId])).toEqual([
      { version: 1, state: 'retired' },
      { version: 2, state: 'current' },
    ]);
    // Nothing to retire: the journal write only.
    const later = new Date(at.getTime() + 1_000);
    await rotations.aboutToCreate(claimed.rotation, later, null);
    expect(await rotations.get(x.rotationId)).toMatchObject({ step: 'create', aboutToCreateAt: later });
    expect(await ds.query(`SELECT state FROM secret_versions WHERE secret_id = $1 ORDER BY version`, [x.secretId])).toEqual([{ state: 'retired' }, { state: 'current' }]);
  });

  it('withLiveVersions reads what get and live read, in one statement', async () => {
    const x = await subject(['retired', 'previous', 'current', 'pending']);
    const found = await secrets.withLiveVersions(x.secretId);
    expect(found?.secret).toEqual(await secrets.get(x.secretId));
    const byId = (a: { id: string }, b: { id: string }) => a.id.localeCompare(b.id);
    expect(found?.versions.sort(byId)).toEqual((await versions.live(x.secretId)).sort(byId));
    expect(found?.versions.map((v) => v.state).sort()).toEqual(['current', 'pending', 'previous']);

    const bare = await subject([]);
    expect(await secrets.withLiveVersions(bare.secretId)).toEqual({ secret: await secrets.get(bare.secretId), versions: [], othersInGrace: null, globalSettings: null });
    expect(await secrets.withLiveVersions(uuidv7())).toBeNull();
  });

  it('withLiveVersions for a rotation also reads the global settings, as the settings read does (null: never set)', async () => {
    const x = await subject(['current']);
    await ds.query(`DELETE FROM settings WHERE key = 'global'`);
    expect(await secrets.withLiveVersions(x.secretId, x.rotationId)).toMatchObject({ othersInGrace: false, globalSettings: null });
    await ds.query(`INSERT INTO settings (key, value) VALUES ('global', '{"passwordLength": 31, "previousKeyGraceSeconds": 60}')`);
    const [stored] = await rowsOf<{ value: Record<string, unknown> }>(ds.manager, SETTING_VALUE_SQL, ['global']);
    expect(stored!.value).toEqual({ passwordLength: 31, previousKeyGraceSeconds: 60 });
    expect(await secrets.withLiveVersions(x.secretId, x.rotationId)).toMatchObject({ othersInGrace: false, globalSettings: stored!.value });
    // Without a rotation it is not read.
    expect(await secrets.withLiveVersions(x.secretId)).toMatchObject({ othersInGrace: null, globalSettings: null });
    await ds.query(`DELETE FROM settings WHERE key = 'global'`);
  });

  it('nextVersion counts under the row lock and returns the new counter (null: no secret); insert returns the stored row', async () => {
    const x = await subject(['current']);
    const stored = await ds.transaction(async (m) => {
      const v = await new SecretsRepository(m).nextVersion(x.secretId);
      expect(v).toBe(2);
      // The row is locked until the transaction ends: another connection cannot take it.
      const [{ free }] = await ds.query(`SELECT count(*)::int AS free FROM (SELECT 1 FROM secrets WHERE id = $1 FOR UPDATE SKIP LOCKED) t`, [x.secretId]);
      expect(free).toBe(0);
      return new SecretVersionsRepository(m).insert({
        id: uuidv7(),
        secretId: x.secretId,
        version: v!,
        state: 'pending',
        kekId: 'k1',
        wrappedKey: 'w',
        fields: { accessKeyId: { c: 'y' } } as never,
        keyHint: null,
        keyIdHmac: null,
        keyStatus: 'Active',
        keyCreatedAt: new Date('2026-11-28T09:00:00.000Z'),
        keyListedAt: new Date('2026-11-28T09:00:01.000Z'),
      } as never);
    });
    expect(stored).toEqual(await versions.inState(x.secretId, 'pending'));
    expect(stored).toMatchObject({ version: 2, state: 'pending', secretUnknown: false, keyStatus: 'Active' });
    expect((await secrets.get(x.secretId))?.versionCounter).toBe(2);
    expect(await secrets.nextVersion(uuidv7())).toBeNull();
  });

  it('markChangedAndChecked records the check and returns the heartbeat state the row had (null: no secret)', async () => {
    const x = await subject();
    await ds.query(`UPDATE secrets SET heartbeat_status = 'failed', heartbeat_failures = 3 WHERE id = $1`, [x.secretId]);
    const at = new Date('2026-11-28T11:00:00.000Z');
    const next = new Date('2026-11-29T11:00:00.000Z');
    const before = await ds.transaction(async (m) => {
      const r = await new SecretsRepository(m).markChangedAndChecked(x.secretId, { at, next });
      // It holds the row lock until the transaction ends, as lockHeartbeatState would have.
      const [{ free }] = await ds.query(`SELECT count(*)::int AS free FROM (SELECT 1 FROM secrets WHERE id = $1 FOR UPDATE SKIP LOCKED) t`, [x.secretId]);
      expect(free).toBe(0);
      return r;
    });
    expect(before).toEqual({ heartbeatStatus: 'failed', heartbeatFailures: 3 });
    expect(await secrets.get(x.secretId)).toMatchObject({ heartbeatStatus: 'success', heartbeatFailures: 0, lastHeartbeatAt: at, nextHeartbeatAt: next, lastRotatedAt: expect.any(Date) });
    expect(await secrets.markChangedAndChecked(uuidv7(), { at, next })).toBeNull();
  });

  it('promotePending makes the pending version current and returns it; none: null, nothing changed', async () => {
    const x = await subject(['current', 'pending']);
    await versions.moveState(x.secretId, 'current', 'previous');
    const promoted = await versions.promotePending(x.secretId);
    expect(promoted).toEqual(await versions.inState(x.secretId, 'current'));
    expect(promoted).toMatchObject({ id: x.versionIds[1], version: 2, state: 'current' });
    expect(await versions.promotePending(x.secretId)).toBeNull();
    expect((await versions.live(x.secretId)).map((v) => [v.version, v.state]).sort()).toEqual([
      [1, 'previous'],
      [2, 'current'],
    ]);
  });

  it('events.record writes the event and one pending delivery per URL', async () => {
    const x = await subject();
    const events = new EventsRepository(ds.manager);
    const urls = ['https://a.example/hook', 'https://b.example/hook', 'https://c.example/hook'];
    const id = await ds.transaction((m) => new EventsRepository(m).record(urls, 'rotation.failed', x.secretId, { rotationId: x.rotationId, errorCode: 'E', version: null }));
    expect(await ds.query(`SELECT type, secret_id, payload FROM events WHERE id = $1`, [id])).toEqual([
      { type: 'rotation.failed', secret_id: x.secretId, payload: { rotationId: x.rotationId, errorCode: 'E', version: null } },
    ]);
    const deliveries = await ds.query(`SELECT url, status, attempts, next_attempt_at FROM webhook_deliveries WHERE event_id = $1 ORDER BY url`, [id]);
    expect(deliveries.map((d: { url: string }) => d.url)).toEqual(urls);
    for (const d of deliveries) expect(d).toMatchObject({ status: 'pending', attempts: 0, next_attempt_at: expect.any(Date) });

    const none = await events.record([], 'rotation.succeeded', null, { n: 1 });
    expect(await ds.query(`SELECT count(*)::int AS n FROM webhook_deliveries WHERE event_id = $1`, [none])).toEqual([{ n: 0 }]);
    expect(await ds.query(`SELECT secret_id FROM events WHERE id = $1`, [none])).toEqual([{ secret_id: null }]);
  });

  it('a rotation’s statements are prepared on the connection that ran them, each under its name', async () => {
    // One connection, so the pool's statements and the transactions' share one session.
    const one = new DataSource(dataSourceOptions(database.url, { poolSize: 1, connectTimeoutMs: 5_000, namedStatements: true }));
    await one.initialize();
    try {
      const x = await subject(['previous', 'current']);
      // The steady state: the secret's key answered its last check.
      await ds.query(`UPDATE secrets SET heartbeat_status = 'success' WHERE id = $1`, [x.secretId]);
      const r = repositoriesOf(one.manager);
      const locks = new LeaseLocks(one);
      // What a key rotation's run sends (ChangeJournal, RotationRunner, SettingsService), in its order.
      const found = await r.rotations.getWithSecret(x.rotationId);
      expect(found?.rotation.id).toBe(x.rotationId);
      expect(await locks.tryTake(`iam-user:${x.secretId}`, 'w1', 60_000)).toBe(true);
      const claimed = await r.rotations.claim(x.rotationId, 'w1', 60_000, lockFor(x.rotationId));
      if (!claimed.claimed) throw new Error(`not claimed: ${JSON.stringify(claimed)}`);
      const rot = claimed.rotation;
      expect((await r.secrets.withLiveVersions(x.secretId, rot.id))?.versions).toHaveLength(2);
      await r.rotations.journal(rot, { mode: 'basic', executorSecretId: x.secretId });
      await r.rotations.journal(rot, { step: 'make-room' });
      expect(await r.versions.holdersOfKeyIdHmacs(['h1', 'h2'], x.secretId)).toEqual([]);
      // Make-room deleted the previous key: retired with the create step's journal write.
      await r.rotations.aboutToCreate(rot, new Date(), x.versionIds[0]!);
      // The new key stored as pending at the version the run expects (the counter it read, plus one): one call.
      const stored = await r.versions.storePending(rot.id, 'verify', {
        id: uuidv7(), secretId: x.secretId, version: 3, state: 'pending', kekId: 'k1', wrappedKey: 'w', fields: {} as never, keyHint: null, keyIdHmac: null,
      });
      expect(stored).toMatchObject({ version: 3, state: 'pending' });
      expect(await rowsOf(one.manager, SETTING_VALUE_SQL, ['global'])).toEqual([]);
      // The promotion of a verified key whose secret's heartbeat status is already success: one call.
      const at = new Date();
      expect(
        await r.secrets.promoteChecked(x.secretId, rot.id, 'retire', { at, next: new Date(at.getTime() + 3_600_000), heartbeatId: uuidv7(), requestedBy: 'test', checkedArn: 'arn' }),
      ).toBe('promoted');
      await r.rotations.journal(rot, { step: 'done', retirePending: false });
      expect(await r.rotations.finish(rot.id, 'succeeded', new Date(), { code: null, message: null }, announcement(x, 'succeeded', ['https://a.example/hook']))).toMatchObject({
        announced: true,
      });
      await locks.release(`iam-user:${x.secretId}`, 'w1');

      const names = (await rowsOf<{ name: string }>(one.manager, 'SELECT name FROM pg_prepared_statements ORDER BY name', [])).map((p) => p.name);
      // A journal write is named after its table and a digest of its text: one per set of columns.
      const updates = names.filter((n) => /^keyturn_[a-z_]+_set_[0-9a-f]{16}$/.test(n));
      expect(updates.filter((n) => n.startsWith('keyturn_rotations_set_'))).toHaveLength(3);
      expect(updates.filter((n) => n.startsWith('keyturn_secret_versions_set_'))).toHaveLength(0);
      expect(names.filter((n) => !updates.includes(n))).toEqual(
        [
          'keyturn_rotation_with_secret', 'keyturn_lease_lock_try_take', 'keyturn_rotation_claim', 'keyturn_secret_with_live_versions',
          'keyturn_version_holders_of_key_id_hmacs', 'keyturn_rotation_about_to_create', 'keyturn_version_store_pending',
          'keyturn_setting_value', 'keyturn_secret_promote_checked',
          'keyturn_rotation_finish', 'keyturn_lease_lock_release',
        ].sort(),
      );
    } finally {
      await one.destroy();
    }
  });
});
