import { DataSource } from 'typeorm';
import { LeaseLocks, LockSpace, dataSourceOptions, lockKey, runMigrations, checkPoolFitsServer } from '@keyturn/store';
import { ADMIN_URL, throwawayDatabase } from '../../../test/unit-fakes/pg-database.js';

// Real Postgres (the machine's), in a database of this run's own.

describe('LeaseLocks (lease rows in Postgres; no connection is pinned)', () => {
  const database = throwawayDatabase('locks');
  const url = database.url;
  let ds: DataSource;
  let locks: LeaseLocks;

  beforeAll(async () => {
    await database.create();
    await runMigrations(url);
    // One connection: holding a lock must leave it free for everything else.
    ds = new DataSource(dataSourceOptions(url, { poolSize: 1, connectTimeoutMs: 5_000 }));
    await ds.initialize();
    locks = new LeaseLocks(ds);
  });
  afterAll(async () => {
    await ds?.destroy();
    await database.drop();
  });

  it('names keys by lock space', () => {
    expect(lockKey(LockSpace.IamUser, '123456789012:alice')).toBe('iam-user:123456789012:alice');
    expect(lockKey(LockSpace.Scheduler, 'auto-change')).toBe('scheduler:auto-change');
  });

  it('one owner at a time; the holder may take it again; release frees it for the next', async () => {
    const key = lockKey(LockSpace.IamUser, 'a');
    expect(await locks.tryTake(key, 'w1', 60_000)).toBe(true);
    expect(await locks.tryTake(key, 'w2', 60_000)).toBe(false);
    expect(await locks.tryTake(key, 'w1', 60_000)).toBe(true);
    // Not the holder: releasing does nothing.
    await locks.release(key, 'w2');
    expect(await locks.tryTake(key, 'w2', 60_000)).toBe(false);
    await locks.release(key, 'w1');
    expect(await locks.tryTake(key, 'w2', 60_000)).toBe(true);
    await locks.release(key, 'w2');
  });

  it('holding many locks pins no connection: the pool of one still answers queries', async () => {
    for (let i = 0; i < 20; i++) expect(await locks.tryTake(lockKey(LockSpace.IamUser, `many-${i}`), 'w1', 60_000)).toBe(true);
    expect(await ds.query('SELECT 1 AS ok')).toEqual([{ ok: 1 }]);
    for (let i = 0; i < 20; i++) await locks.release(lockKey(LockSpace.IamUser, `many-${i}`), 'w1');
  });

  it('a lapsed lease (its holder died) can be taken by another owner, and the old holder can no longer renew it', async () => {
    const key = lockKey(LockSpace.IamUser, 'lapsed');
    expect(await locks.tryTake(key, 'dead', 60_000)).toBe(true);
    // As if the holder stopped renewing a minute ago.
    await ds.query(`UPDATE lease_locks SET expires_at = now() - interval '1 second' WHERE lock_key = $1`, [key]);
    expect(await locks.tryTake(key, 'alive', 60_000)).toBe(true);
    expect(await locks.renew(key, 'dead', 60_000)).toBe(false);
    expect(await locks.renew(key, 'alive', 60_000)).toBe(true);
    await locks.release(key, 'alive');
  });

  it('renewing pushes the expiry ahead', async () => {
    const key = lockKey(LockSpace.Scheduler, 'renew');
    expect(await locks.tryTake(key, 'w1', 1_000)).toBe(true);
    const [{ before }] = await ds.query(`SELECT expires_at AS before FROM lease_locks WHERE lock_key = $1`, [key]);
    expect(await locks.renew(key, 'w1', 600_000)).toBe(true);
    const [{ after }] = await ds.query(`SELECT expires_at AS after FROM lease_locks WHERE lock_key = $1`, [key]);
    expect((after as Date).getTime()).toBeGreaterThan((before as Date).getTime() + 500_000);
    await locks.release(key, 'w1');
  });

  it('50 owners racing for one key: exactly one wins', async () => {
    const key = lockKey(LockSpace.IamUser, 'race');
    const wide = new DataSource(dataSourceOptions(url, { poolSize: 10, connectTimeoutMs: 5_000 }));
    await wide.initialize();
    try {
      const racing = new LeaseLocks(wide);
      const won = await Promise.all(Array.from({ length: 50 }, (_, i) => racing.tryTake(key, `w${i}`, 60_000)));
      expect(won.filter(Boolean)).toHaveLength(1);
    } finally {
      await wide.destroy();
    }
  });

  it('withLease runs the work only for the holder, and releases afterwards even when the work throws', async () => {
    const key = lockKey(LockSpace.Scheduler, 'with');
    expect(await locks.withLease(key, 'w1', 60_000, async () => {
      expect(await locks.tryTake(key, 'w2', 60_000)).toBe(false);
      expect(await locks.withLease(key, 'w2', 60_000, async () => 'never')).toEqual({ taken: false });
      return 42;
    })).toEqual({ taken: true, value: 42 });
    await expect(locks.withLease(key, 'w1', 60_000, async () => {
      throw new Error('boom');
    })).rejects.toThrow('boom');
    expect(await locks.tryTake(key, 'w2', 60_000)).toBe(true);
    await locks.release(key, 'w2');
  });
});

describe('checkPoolFitsServer', () => {
  it('accepts a pool Postgres can hold and refuses one it never could, naming max_connections', async () => {
    expect(await checkPoolFitsServer(ADMIN_URL, 5)).toBeNull();
    expect(await checkPoolFitsServer(ADMIN_URL, 1_000_000)).toMatch(/max_connections=\d+/);
  });
});
