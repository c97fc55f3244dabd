import { createTestEnv, eventually, rawDb, spawnApp, type SpawnedApp, type TestEnv } from './harness.js';

/** Waits for the process to end; one still alive after `timeoutMs` is killed, and the test fails with its output. */
function exitOf(app: SpawnedApp, timeoutMs: number): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  return new Promise((resolve, reject) => {
    if (app.child.exitCode !== null || app.child.signalCode !== null) return resolve({ code: app.child.exitCode, signal: app.child.signalCode });
    const timer = setTimeout(() => {
      app.child.kill('SIGKILL');
      reject(new Error(`still running after ${timeoutMs} ms; output:\n${app.output().slice(-4000)}`));
    }, timeoutMs);
    app.child.once('exit', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal });
    });
  });
}

describe('heartbeat-scheduler: SIGTERM in the middle of a tick', () => {
  let t: TestEnv;
  let p: SpawnedApp | undefined;

  beforeAll(async () => {
    t = await createTestEnv();
  });
  afterAll(async () => {
    if (p && p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
    await t?.drop();
  });

  it('finishes the tick before the database pool closes, logs no pool error, and exits 0', async () => {
    // The schema first (the scheduler migrates at start), then enough due work for a long tick.
    const first = spawnApp('heartbeat-scheduler', { ...t.env, KEYTURN_SCHEDULER_TICK_MS: '600000' });
    await first.waitFor(/ready: connected/);
    first.child.kill('SIGTERM');
    await exitOf(first, 60_000);
    const db = await rawDb(t);
    await db.query(`
      INSERT INTO secrets (id, type, name, folder, username, account_id)
      SELECT gen_random_uuid(), 'aws-iam-key', 'bulk-' || i, '/bulk', 'bulk-user-' || i, '123456789012' FROM generate_series(1, 20000) AS i`);
    // Each key secret's due row came with it (a trigger): make them due one second apart.
    await db.query(`
      UPDATE heartbeat_due d SET due_at = now() - (substr(s.name, 6)::int || ' seconds')::interval
        FROM secrets s WHERE s.id = d.secret_id AND s.folder = '/bulk'`);

    p = spawnApp('heartbeat-scheduler', { ...t.env, KEYTURN_SCHEDULER_BATCH: '100', KEYTURN_SHUTDOWN_TIMEOUT_MS: '120000' });
    await p.waitFor(/ready: connected/);
    // A tick is under way once its first batch is in.
    await eventually(async () => (await db.query(`SELECT count(*)::int AS n FROM heartbeats`)).rows[0].n > 0, 60_000, 20);
    p.child.kill('SIGTERM');
    const exit = await exitOf(p, 180_000);
    await db.end();
    expect({ exit, output: p.output() }).toEqual({ exit: { code: 0, signal: null }, output: expect.stringMatching(/drained/) });
    expect(p.output()).not.toMatch(/Connection terminated|Cannot use a pool|failed:/);
  }, 300_000);
});
