import { randomBytes } from 'node:crypto';
import type { DataSource } from 'typeorm';
import { ErrorCode } from '@keyturn/contracts';
import { RotationsRepository, SecretVersionsRepository, SecretsRepository, Transactions, uuidv7, type RotationEntity } from '@keyturn/store';
import { EnvelopeCipher, generateMasterKey, keyringFromStrings } from '@keyturn/crypto';
import { envelopeVersionCipher, type VersionCipher } from '@keyturn/vault';
import { CONFIG, FakeClock } from '../../../test/unit-fakes/worker.fixture.js';
import { recordStatements, migratedDataSource, throwawayDatabase } from '../../../test/unit-fakes/pg-database.js';
import { ChangeJournal } from './change-journal.service.js';

// A rotation's two multi-row writes on real Postgres (docs/architecture.md, "The rotation protocol"), each
// in one call in the common case and in a transaction otherwise, both paths leaving the same rows:
// - storing the new key as pending (keyturn_store_pending; the transaction when the counter moved on);
// - a verified key's promotion (keyturn_promote_checked; the transaction, with its event, when the
//   heartbeat status changes; nothing written when there is nothing to promote).
const HOUR = 3_600_000;
const plainCipher = { open: (v: { fields: unknown }) => v.fields as Record<string, string> } as unknown as VersionCipher;

describe('ChangeJournal on Postgres', () => {
  const database = throwawayDatabase('promotepg');
  let ds: DataSource;
  /** Statements sent, as Postgres received them (BEGIN/COMMIT included). */
  const statements: string[] = [];

  beforeAll(async () => {
    await database.create();
    ds = await migratedDataSource(database.url);
    recordStatements(ds, statements);
  });
  afterAll(async () => {
    await ds?.destroy();
    await database.drop();
  });

  /** A ChangeJournal over this database's repositories, and the rotation `rotationId` as stored. */
  async function journalFor(rotationId: string, cipher: VersionCipher, clock: FakeClock) {
    const rotations = new RotationsRepository(ds.manager);
    const journal = new ChangeJournal(rotations, new SecretsRepository(ds.manager), new SecretVersionsRepository(ds.manager), new Transactions(ds), cipher, clock, CONFIG);
    return { journal, rot: (await rotations.get(rotationId)) as RotationEntity };
  }

  /** A key secret with a previous, a current and (unless `pending` is false) a pending version, and a running rotation at verify. */
  async function world(status: string, pending = true) {
    const clock = new FakeClock();
    const secretId = uuidv7();
    const rotationId = uuidv7();
    const createdAt = new Date('2030-01-01T11:59:00.000Z');
    await ds.query(
      `INSERT INTO secrets (id, type, name, folder, account_id, username, settings, version_counter, heartbeat_status, heartbeat_failures)
       VALUES ($1, 'aws-iam-key', $2, '/', '111111111111', 'alice', '{}', 3, $3, $4)`,
      [secretId, `s-${secretId}`, status, status === 'success' ? 0 : 2],
    );
    const states = pending ? ['previous', 'current', 'pending'] : ['previous', 'current'];
    for (const [i, state] of states.entries()) {
      await ds.query(
        `INSERT INTO secret_versions (id, secret_id, version, state, kek_id, wrapped_key, fields, key_created_at) VALUES ($1, $2, $3, $4, 'k1', 'w', '{"accessKeyId": "AKIA"}', $5)`,
        [uuidv7(), secretId, i + 1, state, state === 'pending' ? createdAt : null],
      );
    }
    await ds.query(`INSERT INTO rotations (id, secret_id, secret_type, status, step, requested_by, pending_version) VALUES ($1, $2, 'aws-iam-key', 'running', 'verify', 'test', 3)`, [
      rotationId,
      secretId,
    ]);
    const { journal, rot } = await journalFor(rotationId, plainCipher, clock);
    const at = new Date(clock.now());
    return { secretId, rotationId, rot, journal, at, createdAt, verified: { at, arn: 'arn:aws:iam::111111111111:user/alice', heartbeatIntervalSeconds: null } };
  }

  /** Everything a promotion writes, as one comparable value. */
  async function rowsOf(secretId: string, rotationId: string) {
    const [secret] = await ds.query(
      `SELECT s.heartbeat_status, s.heartbeat_failures, s.last_heartbeat_at, s.last_rotated_at IS NOT NULL AS rotated, d.due_at
         FROM secrets s JOIN heartbeat_due d ON d.secret_id = s.id WHERE s.id = $1`,
      [secretId],
    );
    const versions = await ds.query(`SELECT version, state FROM secret_versions WHERE secret_id = $1 ORDER BY version`, [secretId]);
    const heartbeats = await ds.query(
      `SELECT status, outcome, trigger, requested_by, checked_arn, key_status, key_created_at, attempt, created_at, finished_at FROM heartbeats WHERE secret_id = $1`,
      [secretId],
    );
    const [rotation] = await ds.query(`SELECT step FROM rotations WHERE id = $1`, [rotationId]);
    const events = await ds.query(`SELECT type FROM events WHERE secret_id = $1`, [secretId]);
    return { secret, versions, heartbeats, rotation, events };
  }

  const expected = (x: { at: Date; createdAt: Date }) => ({
    secret: { heartbeat_status: 'success', heartbeat_failures: 0, last_heartbeat_at: x.at, rotated: true, due_at: new Date(x.at.getTime() + HOUR) },
    versions: [
      { version: 1, state: 'retired' },
      { version: 2, state: 'previous' },
      { version: 3, state: 'current' },
    ],
    heartbeats: [
      {
        status: 'done', outcome: 'success', trigger: 'rotation', requested_by: 'system:rotation-worker', checked_arn: 'arn:aws:iam::111111111111:user/alice',
        key_status: 'Active', key_created_at: x.createdAt, attempt: 1, created_at: x.at, finished_at: x.at,
      },
    ],
    rotation: { step: 'retire' },
  });

  it('status already success: one call, no transaction; the versions moved, the verify step recorded as the heartbeat, the step', async () => {
    const x = await world('success');
    statements.length = 0;
    await x.journal.promote(x.rot, 'retire', x.verified);
    expect(statements).toEqual(['SELECT']);
    expect(x.rot.step).toBe('retire');
    expect(await rowsOf(x.secretId, x.rotationId)).toEqual({ ...expected(x), events: [] });
  });

  it('a status change: the same rows, and the change announced, in one transaction', async () => {
    const x = await world('failing');
    statements.length = 0;
    await x.journal.promote(x.rot, 'retire', x.verified);
    // The call wrote nothing and said so; the transaction did it all.
    expect(statements[0]).toBe('SELECT');
    expect(statements[1]).toBe('START');
    expect(statements.at(-1)).toBe('COMMIT');
    expect(await rowsOf(x.secretId, x.rotationId)).toEqual({ ...expected(x), events: [{ type: 'heartbeat.status-changed' }] });
  });

  it('the one call is all or nothing: a write that fails in it (a heartbeat id already taken) leaves every row as it was', async () => {
    const x = await world('success');
    const heartbeatId = uuidv7();
    await ds.query(`INSERT INTO heartbeats (id, secret_id, status, trigger, requested_by) VALUES ($1, $2, 'done', 'api', 'test')`, [heartbeatId, x.secretId]);
    const before = await rowsOf(x.secretId, x.rotationId);
    const check = { at: x.at, next: new Date(x.at.getTime() + HOUR), heartbeatId, requestedBy: 'system:rotation-worker', checkedArn: x.verified.arn };
    // The heartbeat insert comes after the secret's write and the version moves.
    await expect(new SecretsRepository(ds.manager).promoteChecked(x.secretId, x.rotationId, 'retire', check)).rejects.toMatchObject({ code: '23505', constraint: 'heartbeats_pkey' });
    expect(await rowsOf(x.secretId, x.rotationId)).toEqual(before);
  });

  it('nothing pending: NOTHING_TO_PROMOTE and nothing written', async () => {
    const x = await world('success', false);
    const before = await rowsOf(x.secretId, x.rotationId);
    statements.length = 0;
    await expect(x.journal.promote(x.rot, 'retire', x.verified)).rejects.toMatchObject({ code: ErrorCode.NOTHING_TO_PROMOTE });
    expect(statements).toEqual(['SELECT']);
    expect(await rowsOf(x.secretId, x.rotationId)).toEqual(before);
    expect(x.rot.step).toBe('verify');
  });

  describe('storePending', () => {
    const cipher = envelopeVersionCipher(new EnvelopeCipher(keyringFromStrings(generateMasterKey())));
    // A key id of its own per test: a live key is held by one secret only (secret_versions_key_id_hmac_live).
    const newFields = () => ({ accessKeyId: `AKIA${randomBytes(8).toString('hex').toUpperCase()}`, secretAccessKey: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY' });
    const listing = { keyStatus: 'Active' as const, keyCreatedAt: new Date('2030-01-01T11:59:00.000Z'), keyListedAt: new Date('2030-01-01T12:00:00.000Z') };

    /** A secret at version 2 (counter 2) with an abandoned pending version, and a rotation at create. */
    async function stored() {
      const secretId = uuidv7();
      const rotationId = uuidv7();
      await ds.query(
        `INSERT INTO secrets (id, type, name, folder, account_id, username, settings, version_counter) VALUES ($1, 'aws-iam-key', $2, '/', '111111111111', 'alice', '{}', 2)`,
        [secretId, `s-${secretId}`],
      );
      for (const [version, state] of [[1, 'current'], [2, 'pending']] as const) {
        await ds.query(`INSERT INTO secret_versions (id, secret_id, version, state, kek_id, wrapped_key, fields) VALUES ($1, $2, $3, $4, 'k1', 'w', '{}')`, [uuidv7(), secretId, version, state]);
      }
      await ds.query(`INSERT INTO rotations (id, secret_id, secret_type, status, step, requested_by) VALUES ($1, $2, 'aws-iam-key', 'running', 'create', 'test')`, [rotationId, secretId]);
      const { journal, rot } = await journalFor(rotationId, cipher, new FakeClock());
      return { secretId, rotationId, rot, journal };
    }
    const rowsAfter = async (secretId: string, rotationId: string) => ({
      counter: (await ds.query(`SELECT version_counter FROM secrets WHERE id = $1`, [secretId]))[0].version_counter,
      versions: await ds.query(`SELECT version, state, key_status, key_created_at, key_listed_at FROM secret_versions WHERE secret_id = $1 ORDER BY version`, [secretId]),
      rotation: (await ds.query(`SELECT step, pending_version FROM rotations WHERE id = $1`, [rotationId]))[0],
    });
    const expectedRows = (version: number, versionsBefore: { version: number; state: string }[]) => ({
      counter: version,
      versions: [
        ...versionsBefore.map((v) => ({ ...v, key_status: null, key_created_at: null, key_listed_at: null })),
        { version, state: 'pending', key_status: 'Active', key_created_at: listing.keyCreatedAt, key_listed_at: listing.keyListedAt },
      ],
      rotation: { step: 'verify', pending_version: version },
    });

    it('the version the run expects: one call, no transaction; the abandoned pending discarded, the key stored sealed with its version', async () => {
      const x = await stored();
      const fields = newFields();
      statements.length = 0;
      const pending = await x.journal.storePending(x.rot, fields, 'verify', listing, 3);
      expect(statements).toEqual(['SELECT']);
      expect(pending.row).toMatchObject({ secretId: x.secretId, version: 3, state: 'pending', createdAt: expect.any(Date) });
      expect(x.rot).toMatchObject({ step: 'verify', pendingVersion: 3 });
      expect(await rowsAfter(x.secretId, x.rotationId)).toEqual(expectedRows(3, [{ version: 1, state: 'current' }, { version: 2, state: 'discarded' }]));
      const [row] = await new SecretVersionsRepository(ds.manager).newest(x.secretId, ['pending'], 1);
      expect(cipher.open(row!)).toEqual(fields);
    });

    it('a counter that moved on meanwhile: nothing written by the call, then the transaction counts and seals with the next version', async () => {
      const x = await stored();
      // Another change stored version 3 since the run read the counter.
      await ds.query(`UPDATE secrets SET version_counter = 3 WHERE id = $1`, [x.secretId]);
      await ds.query(`INSERT INTO secret_versions (id, secret_id, version, state, kek_id, wrapped_key, fields) VALUES ($1, $2, 3, 'retired', 'k1', 'w', '{}')`, [uuidv7(), x.secretId]);
      const fields = newFields();
      statements.length = 0;
      const pending = await x.journal.storePending(x.rot, fields, 'verify', listing, 3);
      expect(statements[0]).toBe('SELECT');
      expect(statements[1]).toBe('START');
      expect(statements.at(-1)).toBe('COMMIT');
      expect(pending.row.version).toBe(4);
      expect(await rowsAfter(x.secretId, x.rotationId)).toEqual(
        expectedRows(4, [{ version: 1, state: 'current' }, { version: 2, state: 'discarded' }, { version: 3, state: 'retired' }]),
      );
      const [row] = await new SecretVersionsRepository(ds.manager).newest(x.secretId, ['pending'], 1);
      expect(cipher.open(row!)).toEqual(fields);
    });

    it('the one call is all or nothing: an insert that fails in it (a version id already taken) leaves every row as it was', async () => {
      const x = await stored();
      const [taken] = await ds.query(`SELECT id FROM secret_versions WHERE secret_id = $1 AND version = 1`, [x.secretId]);
      const before = await rowsAfter(x.secretId, x.rotationId);
      const row = { ...cipher.seal(x.secretId, 3, 'pending', newFields()), id: taken.id as string };
      await expect(new SecretVersionsRepository(ds.manager).storePending(x.rotationId, 'verify', row)).rejects.toMatchObject({ code: '23505', constraint: 'secret_versions_pkey' });
      expect(await rowsAfter(x.secretId, x.rotationId)).toEqual(before);
    });
  });
});
