import { DataSource, type QueryRunner } from 'typeorm';
import type { SecretType } from '@keyturn/contracts';
import { HeartbeatsRepository, MIGRATIONS, SecretsApiRepository, SecretsRepository, dataSourceOptions, uuidv7 } from '@keyturn/store';
import { HeartbeatDue1795836000000 } from './migrations/1795836000000-heartbeat-due.js';
import { HeartbeatDueRows1795837000000 } from './migrations/1795837000000-heartbeat-due-rows.js';
import { migratedDataSource, throwawayDatabase } from '../../../test/unit-fakes/pg-database.js';

// Real Postgres (the machine's), in a database of this run's own. A key
// secret's heartbeat due time lives in the narrow table heartbeat_due, not in
// the wide `secrets` row: the scheduler's claim moves it ahead without
// rewriting the secret (no new entry in each of the secrets' indexes, no
// full-page image of their pages), and a heartbeat's finish that leaves the
// status as it is changes no indexed column of `secrets` (a HOT update).
const HOUR = 3_600_000;
const MINUTE = 60_000;

describe('heartbeat_due: the due time of key secrets in a table of its own (Postgres)', () => {
  const database = throwawayDatabase('hbdue');
  let ds: DataSource;
  let api: SecretsApiRepository;

  beforeAll(async () => {
    await database.create();
    ds = await migratedDataSource(database.url);
    api = new SecretsApiRepository(ds.manager);
  });
  afterAll(async () => {
    await ds?.destroy();
    await database.drop();
  });

  /** A secret made as CreateSecretUseCase makes it (a current version 1), due at `due` (null: never). */
  async function secret(type: 'aws-iam-key' | 'aws-iam-console-password', due: Date | null, status = 'success'): Promise<string> {
    const id = uuidv7();
    await api.insert(
      { id, type: type as SecretType, name: `s-${id}`, folder: '/', username: 'alice', accountId: '123456789012', privilegedSecretId: null, settings: {}, heartbeatStatus: status as never, nextHeartbeatAt: due, versionCounter: 1 },
      { id: uuidv7(), secretId: id, version: 1, state: 'current', kekId: 'k1', wrappedKey: 'w', fields: {} } as never,
    );
    return id;
  }
  const dueRow = async (id: string): Promise<Date | null> => (await ds.query(`SELECT due_at FROM heartbeat_due WHERE secret_id = $1`, [id]))[0]?.due_at ?? null;
  /** The physical version of the secret's row: a rewrite (any UPDATE) changes both. */
  const version = async (id: string) => (await ds.query(`SELECT ctid::text, xmin::text FROM secrets WHERE id = $1`, [id]))[0];
  /** Nothing else due: each test sees only its own secrets as due. */
  const clearDue = () => ds.query(`UPDATE heartbeat_due SET due_at = NULL`);

  /** Until a backend of this database waits for a lock. */
  async function waitForLockWait(): Promise<void> {
    const waiting = async () => (await ds.query(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`))[0].n > 0;
    while (!(await waiting())) await new Promise((r) => setTimeout(r, 20));
  }

  it('the claim moves the due time ahead in heartbeat_due and leaves the secrets row as it was', async () => {
    await clearDue();
    const early = await secret('aws-iam-key', new Date(Date.now() - 2 * HOUR));
    const late = await secret('aws-iam-key', new Date(Date.now() - HOUR));
    const future = await secret('aws-iam-key', new Date(Date.now() + HOUR));
    const before = { early: await version(early), late: await version(late) };

    // Ordered by due time: a batch of one takes the one due first.
    const first = await ds.transaction((m) => new SecretsRepository(m).claimDueHeartbeats(1));
    expect(first).toEqual([{ id: early, account_id: '123456789012' }]);
    const rest = await ds.transaction((m) => new SecretsRepository(m).claimDueHeartbeats(10));
    expect(rest).toEqual([{ id: late, account_id: '123456789012' }]);
    expect(await ds.transaction((m) => new SecretsRepository(m).claimDueHeartbeats(10))).toEqual([]);

    expect(await version(early)).toEqual(before.early);
    expect(await version(late)).toEqual(before.late);
    // Claimed: due again ten minutes on (the finished heartbeat sets the real next time), as the API shows it.
    for (const id of [early, late]) {
      const at = (await dueRow(id))!.getTime();
      expect(at).toBeGreaterThan(Date.now() + 9 * MINUTE);
      expect(at).toBeLessThanOrEqual(Date.now() + 10 * MINUTE);
      expect((await api.findById(id))!.nextHeartbeatAt).toEqual(new Date(at));
    }
    expect((await api.findById(future))!.nextHeartbeatAt!.getTime()).toBeGreaterThan(Date.now());
  });

  it('two schedulers claiming at once never claim the same secret', async () => {
    await clearDue();
    const ids = [];
    for (let i = 0; i < 4; i++) ids.push(await secret('aws-iam-key', new Date(Date.now() - (10 - i) * MINUTE)));
    const a = ds.createQueryRunner();
    const b = ds.createQueryRunner();
    try {
      await a.startTransaction();
      await b.startTransaction();
      const first = await new SecretsRepository(a.manager).claimDueHeartbeats(2);
      // b claims while a still holds its rows: it skips them.
      const second = await new SecretsRepository(b.manager).claimDueHeartbeats(10);
      await a.commitTransaction();
      await b.commitTransaction();
      expect(first.map((r) => r.id).sort()).toEqual(ids.slice(0, 2));
      expect(second.map((r) => r.id).sort()).toEqual(ids.slice(2));
    } finally {
      await rollbackAndRelease(a);
      await rollbackAndRelease(b);
    }
  });

  // The claim and the heartbeat rows it leads to are one transaction; the rows' foreign key share-locks the secret.
  // A writer of the secret that then writes its due row (a delete's cascade, a heartbeat's finish, a promotion)
  // must not deadlock with it: the claim takes the secret's lock with the due row's, or skips the secret.
  it.each([
    ['a delete of the secret (its due row goes by the cascade)', (id: string) => ds.query(`DELETE FROM secrets WHERE id = $1`, [id])],
    ['a promotion that makes the secret due now', (id: string) => ds.transaction(async (m) => {
      await new SecretsRepository(m).lockHeartbeatState(id);
      await new SecretsRepository(m).markChanged(id, true);
    })],
  ])('%s while a claim of the secret is open: one waits for the other, no deadlock', async (_, write) => {
    await clearDue();
    const id = await secret('aws-iam-key', new Date(Date.now() - HOUR));
    await ds.query(`DELETE FROM secret_versions WHERE secret_id = $1`, [id]);
    const claim = ds.createQueryRunner();
    let written: Promise<unknown> | undefined;
    try {
      await claim.startTransaction();
      expect(await new SecretsRepository(claim.manager).claimDueHeartbeats(10)).toEqual([{ id, account_id: '123456789012' }]);
      written = write(id);
      written.catch(() => undefined);
      await waitForLockWait();
      await new HeartbeatsRepository(claim.manager).insertScheduled([uuidv7()], [id]);
      await claim.commitTransaction();
    } finally {
      await rollbackAndRelease(claim);
    }
    await written;
  });

  // And the other order: the writer holds the secret first. The claim does not wait for it (it never locks the
  // secret: the heartbeat rows reference the due row it holds), and the writer's due time, written after the
  // claim's commit, is the one that stays.
  it('a claim of a secret whose row a writer holds: the claim does not wait, the writer then writes its due time', async () => {
    await clearDue();
    const held = await secret('aws-iam-key', new Date(Date.now() - HOUR));
    const free = await secret('aws-iam-key', new Date(Date.now() - 2 * HOUR));
    const writer = ds.createQueryRunner();
    try {
      await writer.startTransaction();
      await new SecretsRepository(writer.manager).lockHeartbeatState(held);
      await ds.transaction(async (m) => {
        const claimed = await new SecretsRepository(m).claimDueHeartbeats(10);
        expect(claimed.sort((x, y) => x.id.localeCompare(y.id))).toEqual(
          [free, held].sort().map((id) => ({ id, account_id: '123456789012' })),
        );
        await new HeartbeatsRepository(m).insertScheduled([uuidv7(), uuidv7()], [free, held]);
      });
      await new SecretsRepository(writer.manager).markChanged(held, true);
      await writer.commitTransaction();
    } finally {
      await rollbackAndRelease(writer);
    }
    expect(await ds.transaction((m) => new SecretsRepository(m).claimDueHeartbeats(10))).toEqual([{ id: held, account_id: '123456789012' }]);
  });

  it('the claim and its heartbeat rows neither read nor lock the secrets table', async () => {
    await clearDue();
    const ids = [await secret('aws-iam-key', new Date(Date.now() - HOUR)), await secret('aws-iam-key', new Date(Date.now() - 2 * HOUR))];
    const q = ds.createQueryRunner();
    try {
      // The backend's own counts for `secrets` (heap and indexes), which change only with what this transaction does.
      const touched = async () =>
        (
          await q.query(
            `SELECT pg_stat_get_xact_numscans('secrets'::regclass)::int AS scans, pg_stat_get_xact_tuples_returned('secrets'::regclass)::int AS returned,
                    pg_stat_get_xact_tuples_fetched('secrets'::regclass)::int AS fetched,
                    (SELECT sum(pg_stat_get_xact_numscans(indexrelid))::int FROM pg_index WHERE indrelid = 'secrets'::regclass) AS index_scans`,
          )
        )[0];
      await q.startTransaction();
      const before = await touched();
      const claimed = await new SecretsRepository(q.manager).claimDueHeartbeats(10);
      await new HeartbeatsRepository(q.manager).insertScheduled([uuidv7(), uuidv7()], claimed.map((c) => c.id));
      const after = await touched();
      await q.commitTransaction();
      expect(claimed.map((c) => c.id).sort()).toEqual([...ids].sort());
      expect(after).toEqual(before);
    } finally {
      await rollbackAndRelease(q);
    }
    expect((await ds.query(`SELECT count(*)::int AS n FROM heartbeats WHERE secret_id = ANY($1::uuid[])`, [ids]))[0].n).toBe(2);
  });

  it('a heartbeat finish that keeps the status is a HOT update of the secret (one call, and the transaction fallback)', async () => {
    const at = new Date('2026-11-28T12:00:00.123Z');
    const ok = { outcome: 'success', at, detail: { checkedArn: 'arn:aws:iam::123456789012:user/alice' } } as const;
    const run = async (work: (m: QueryRunner) => Promise<unknown>) => {
      const q = ds.createQueryRunner();
      try {
        // The backend's own counts of updates of the secrets table, not yet sent to the statistics (they may still
        // hold an earlier transaction's, but they change only at a transaction's end): what `work` adds is exact.
        const counts = async () =>
          (await q.query(`SELECT pg_stat_get_xact_tuples_updated('secrets'::regclass)::int AS updated, pg_stat_get_xact_tuples_hot_updated('secrets'::regclass)::int AS hot`))[0];
        await q.startTransaction();
        const before = await counts();
        await work(q);
        const after = await counts();
        await q.commitTransaction();
        return { updated: after.updated - before.updated, hot: after.hot - before.hot };
      } finally {
        await rollbackAndRelease(q);
      }
    };
    const subject = async () => {
      const id = await secret('aws-iam-key', new Date(Date.now() + HOUR));
      const hbId = uuidv7();
      await ds.query(`INSERT INTO heartbeats (id, secret_id, status, trigger, requested_by, attempt) VALUES ($1, $2, 'running', 'api', 'test', 1)`, [hbId, id]);
      const [{ id: versionId }] = await ds.query(`SELECT id FROM secret_versions WHERE secret_id = $1 AND state = 'current'`, [id]);
      return { id, hbId, versionId: versionId as string };
    };

    const one = await subject();
    expect(await run((q) => new HeartbeatsRepository(q.manager).finishUnchanged(one.hbId, one.id, one.versionId, { ...ok, intervalMs: HOUR }))).toEqual({ updated: 1, hot: 1 });
    expect(await dueRow(one.id)).toEqual(new Date(at.getTime() + HOUR));

    const tx = await subject();
    expect(
      await run(async (q) => {
        await new SecretsRepository(q.manager).lockHeartbeatState(tx.id);
        await new HeartbeatsRepository(q.manager).finishChecked(tx.hbId, tx.id, { ...ok, secret: { status: 'success', failures: 0, next: new Date(at.getTime() + 2 * HOUR) } });
      }),
    ).toEqual({ updated: 1, hot: 1 });
    expect(await dueRow(tx.id)).toEqual(new Date(at.getTime() + 2 * HOUR));

    const recorded = await subject();
    expect(await run((q) => new SecretsRepository(q.manager).recordHeartbeat(recorded.id, { status: 'success', failures: 0, at, next: new Date(at.getTime() + 3 * HOUR) }))).toEqual({
      updated: 1,
      hot: 1,
    });
    expect(await dueRow(recorded.id)).toEqual(new Date(at.getTime() + 3 * HOUR));
  });

  const rowOf = async (id: string) => (await ds.query(`SELECT due_at, account_id FROM heartbeat_due WHERE secret_id = $1`, [id]))[0] ?? null;

  it('a secret that is not a key never gets a due row; a key without a due time gets one when a change makes it due', async () => {
    const password = await secret('aws-iam-console-password', new Date(Date.now() - HOUR), 'not-supported');
    expect(await rowOf(password)).toBeNull();
    await new SecretsRepository(ds.manager).markChanged(password, true);
    await new SecretsRepository(ds.manager).recordHeartbeat(password, { status: 'not-supported', failures: 0, at: new Date(), next: new Date() });
    await api.update(password, { nextHeartbeatAt: new Date() });
    expect(await rowOf(password)).toBeNull();
    expect((await api.findById(password))!.nextHeartbeatAt).toBeNull();

    // An adopted key: nothing to check until its promotion makes it due. Its row is there from the start.
    const adopted = await secret('aws-iam-key', null, 'unknown');
    expect(await rowOf(adopted)).toEqual({ due_at: null, account_id: '123456789012' });
    expect((await api.findById(adopted))!.nextHeartbeatAt).toBeNull();
    const before = Date.now();
    await new SecretsRepository(ds.manager).markChanged(adopted, true);
    expect((await dueRow(adopted))!.getTime()).toBeGreaterThanOrEqual(before - 1_000);
    // Without a heartbeat to check, a change leaves the due time as it was.
    const later = new Date(Date.now() + HOUR);
    await api.update(adopted, { nextHeartbeatAt: later, name: `renamed-${adopted}` });
    await new SecretsRepository(ds.manager).markChanged(adopted, false);
    expect(await dueRow(adopted)).toEqual(later);
    const verified = { at: new Date(), next: new Date(Date.now() + 5 * HOUR) };
    await new SecretsRepository(ds.manager).markChangedAndChecked(adopted, verified);
    expect(await dueRow(adopted)).toEqual(verified.next);
    expect((await new SecretsRepository(ds.manager).get(adopted))!.nextHeartbeatAt).toEqual(verified.next);
  });

  it('deleting a secret deletes its due row and its heartbeats; a due time set to none keeps the row and the heartbeats', async () => {
    const id = await secret('aws-iam-key', new Date(Date.now() + HOUR));
    expect(await dueRow(id)).not.toBeNull();
    await new HeartbeatsRepository(ds.manager).insertScheduled([uuidv7()], [id]);
    const heartbeats = async () => (await ds.query(`SELECT count(*)::int AS n FROM heartbeats WHERE secret_id = $1`, [id]))[0].n;

    await api.update(id, { nextHeartbeatAt: null });
    expect(await rowOf(id)).toEqual({ due_at: null, account_id: '123456789012' });
    expect(await heartbeats()).toBe(1);

    await ds.query(`DELETE FROM secret_versions WHERE secret_id = $1`, [id]);
    await api.delete(id);
    expect((await ds.query(`SELECT count(*)::int AS n FROM heartbeat_due WHERE secret_id = $1`, [id]))[0].n).toBe(0);
    expect(await heartbeats()).toBe(0);
  });

  it("a key secret's row holds its account id, and follows a change of it", async () => {
    const id = await secret('aws-iam-key', new Date(Date.now() - HOUR));
    expect((await rowOf(id)).account_id).toBe('123456789012');
    await ds.query(`UPDATE secrets SET account_id = '210987654321' WHERE id = $1`, [id]);
    expect((await rowOf(id)).account_id).toBe('210987654321');
    await clearDue();
    await api.update(id, { nextHeartbeatAt: new Date(Date.now() - HOUR) });
    expect(await ds.transaction((m) => new SecretsRepository(m).claimDueHeartbeats(10))).toEqual([{ id, account_id: '210987654321' }]);
  });

  it('a heartbeat of a secret without a due row is refused (the foreign key)', async () => {
    const password = await secret('aws-iam-console-password', null, 'not-supported');
    await expect(ds.query(`INSERT INTO heartbeats (id, secret_id, status, trigger, requested_by) VALUES ($1, $2, 'queued', 'api', 'test')`, [uuidv7(), password])).rejects.toMatchObject({
      code: '23503',
    });
  });
});

describe('migration HeartbeatDue: up moves the due times out of secrets, down puts them back', () => {
  const db = databaseBefore('hbduemig', HeartbeatDue1795836000000);

  const column = async () => (await db.ds.query(`SELECT count(*)::int AS n FROM information_schema.columns WHERE table_name = 'secrets' AND column_name = 'next_heartbeat_at'`))[0].n;
  const index = async (name: string) => (await db.ds.query(`SELECT indexdef FROM pg_indexes WHERE indexname = $1`, [name]))[0]?.indexdef ?? null;
  const table = async () => (await db.ds.query(`SELECT to_regclass('heartbeat_due')::text AS t`))[0].t;
  const functionBody = async () => (await db.ds.query(`SELECT prosrc FROM pg_proc WHERE proname = 'keyturn_finish_heartbeat'`))[0].prosrc as string;

  it('backfills a row for each key secret with a due time, and down restores the column, its data, its index and the old function', async () => {
    const due = new Date('2026-11-28T10:00:00.000Z');
    const key = uuidv7();
    const undue = uuidv7();
    const password = uuidv7();
    for (const [id, type, next] of [
      [key, 'aws-iam-key', due],
      [undue, 'aws-iam-key', null],
      [password, 'aws-iam-console-password', null],
    ] as const) {
      await db.ds.query(`INSERT INTO secrets (id, type, name, folder, username, account_id, next_heartbeat_at) VALUES ($1, $2, $4, '/', 'u', '123456789012', $3)`, [id, type, next, `s-${id}`]);
    }
    const oldIndex = await index('secrets_heartbeat_due');
    const oldFunction = await functionBody();
    expect(oldIndex).not.toBeNull();

    const withIt = await dataSourceThrough(db.url, HeartbeatDue1795836000000);
    try {
      await withIt.runMigrations({ transaction: 'each' });
      expect(await column()).toBe(0);
      expect(await index('secrets_heartbeat_due')).toBeNull();
      expect(await index('heartbeat_due_due_at')).not.toBeNull();
      expect(await db.ds.query(`SELECT secret_id, due_at FROM heartbeat_due ORDER BY secret_id`)).toEqual([{ secret_id: key, due_at: due }]);
      expect(await functionBody()).toContain('heartbeat_due');

      await withIt.undoLastMigration({ transaction: 'each' });
      expect(await table()).toBeNull();
      expect(await index('secrets_heartbeat_due')).toBe(oldIndex);
      expect(await functionBody()).toBe(oldFunction);
      expect(await db.ds.query(`SELECT id, next_heartbeat_at FROM secrets ORDER BY id`)).toEqual(
        [
          { id: key, next_heartbeat_at: due },
          { id: undue, next_heartbeat_at: null },
          { id: password, next_heartbeat_at: null },
        ].sort((a, b) => a.id.localeCompare(b.id)),
      );

      // And up again, from what down left.
      await withIt.runMigrations({ transaction: 'each' });
      expect(await db.ds.query(`SELECT secret_id, due_at FROM heartbeat_due`)).toEqual([{ secret_id: key, due_at: due }]);
    } finally {
      await withIt.destroy();
    }
  });
});

describe('migration HeartbeatDueRows: a due row for every key secret, which its heartbeats reference', () => {
  const db = databaseBefore('hbduerows', HeartbeatDueRows1795837000000);

  const rows = () => db.ds.query(`SELECT secret_id, due_at, account_id FROM heartbeat_due ORDER BY secret_id`) as Promise<{ secret_id: string; due_at: Date | null; account_id?: string }[]>;
  const references = async () =>
    (await db.ds.query(`SELECT confrelid::regclass::text AS t FROM pg_constraint WHERE conrelid = 'heartbeats'::regclass AND contype = 'f'`)).map((r: { t: string }) => r.t);
  const functionBody = async () => (await db.ds.query(`SELECT prosrc FROM pg_proc WHERE proname = 'keyturn_finish_heartbeat'`))[0].prosrc as string;

  it('backfills a row (no due time) for each key secret without one, with the account ids; down puts back what HeartbeatDue made', async () => {
    const due = new Date('2026-11-28T10:00:00.000Z');
    const [key, undue, password] = [uuidv7(), uuidv7(), uuidv7()];
    for (const [id, type, account] of [
      [key, 'aws-iam-key', '111111111111'],
      [undue, 'aws-iam-key', '222222222222'],
      [password, 'aws-iam-console-password', '333333333333'],
    ] as const) {
      await db.ds.query(`INSERT INTO secrets (id, type, name, folder, username, account_id) VALUES ($1, $2, $3, '/', 'u', $4)`, [id, type, `s-${id}`, account]);
    }
    await db.ds.query(`INSERT INTO heartbeat_due (secret_id, due_at) VALUES ($1, $2)`, [key, due]);
    const hb = uuidv7();
    await db.ds.query(`INSERT INTO heartbeats (id, secret_id, status, trigger, requested_by) VALUES ($1, $2, 'queued', 'api', 'test')`, [hb, key]);
    const oldFunction = await functionBody();
    expect(await references()).toEqual(['secrets']);

    const withIt = await dataSourceThrough(db.url, HeartbeatDueRows1795837000000);
    try {
      await withIt.runMigrations({ transaction: 'each' });
      const after = [
        { secret_id: key, due_at: due, account_id: '111111111111' },
        { secret_id: undue, due_at: null, account_id: '222222222222' },
      ].sort((a, b) => a.secret_id.localeCompare(b.secret_id));
      expect(await rows()).toEqual(after);
      expect(await references()).toEqual(['heartbeat_due']);
      expect(await functionBody()).not.toBe(oldFunction);
      expect(await functionBody()).not.toContain('ON CONFLICT');

      await withIt.undoLastMigration({ transaction: 'each' });
      expect(await db.ds.query(`SELECT * FROM heartbeat_due`)).toEqual([{ secret_id: key, due_at: due }]);
      expect(await references()).toEqual(['secrets']);
      expect(await functionBody()).toBe(oldFunction);
      expect((await db.ds.query(`SELECT count(*)::int AS n FROM pg_trigger WHERE tgrelid = 'secrets'::regclass AND NOT tgisinternal`))[0].n).toBe(0);
      // The heartbeat is still there, and the column is NOT NULL again.
      expect((await db.ds.query(`SELECT secret_id FROM heartbeats WHERE id = $1`, [hb]))[0].secret_id).toBe(key);
      await expect(db.ds.query(`INSERT INTO heartbeat_due (secret_id, due_at) VALUES ($1, NULL)`, [undue])).rejects.toMatchObject({ code: '23502' });

      // And up again, from what down left.
      await withIt.runMigrations({ transaction: 'each' });
      expect(await rows()).toEqual(after);
    } finally {
      await withIt.destroy();
    }
  });
});

type Migration = (typeof MIGRATIONS)[number];

/** A data source (initialised) whose migrations end with `last`. */
async function dataSourceThrough(url: string, last: Migration): Promise<DataSource> {
  const ds = new DataSource({ ...dataSourceOptions(url), migrations: MIGRATIONS.slice(0, MIGRATIONS.indexOf(last) + 1) });
  await ds.initialize();
  return ds;
}

/** A throwaway database with every migration before `first` run: `db.ds` its data source, `db.url` its address. */
function databaseBefore(label: string, first: Migration): { ds: DataSource; url: string } {
  const database = throwawayDatabase(label);
  const db = { ds: undefined as unknown as DataSource, url: '' };
  beforeAll(async () => {
    await database.create();
    db.url = database.url;
    db.ds = new DataSource({ ...dataSourceOptions(database.url), migrations: MIGRATIONS.slice(0, MIGRATIONS.indexOf(first)) });
    await db.ds.initialize();
    await db.ds.runMigrations({ transaction: 'each' });
  });
  afterAll(async () => {
    await db.ds?.destroy();
    await database.drop();
  });
  return db;
}

async function rollbackAndRelease(q: QueryRunner): Promise<void> {
  if (q.isTransactionActive) await q.rollbackTransaction();
  if (!q.isReleased) await q.release();
}
