/**
 * Issue 12 item 5: automatic changes on a schedule. `autoChangeSchedule` (a
 * 5-field cron expression, UTC) with `autoChangeWindowMinutes` gives one
 * rotation per scheduled time, starting at a random moment inside the window,
 * whatever the number of schedulers: here two run side by side, and a
 * per-minute schedule must give exactly one rotation per minute, none skipped.
 * A schedule takes precedence over autoChangeIntervalDays. Bad schedules are
 * refused with 400 INVALID_SCHEDULE naming the field, and change nothing.
 */
import type pg from 'pg';
import { AwsFixture } from './aws-fixture.js';
import { Processes, WORKER_ENV, selfRotatingKeySecret, vaultOps } from './vault-ops.js';
import { client, createTestEnv, eventually, fakeKey, rawDb, startApi, type Client, type RunningApi, type TestEnv } from './harness.js';

const MINUTE = 60_000;

describe('automatic changes on a schedule', () => {
  let aws: AwsFixture;
  let t: TestEnv;
  let api: RunningApi;
  let admin: Client;
  let db: pg.Client;
  const procs = new Processes(() => ({ ...t.env, ...aws.env, ...WORKER_ENV, KEYTURN_SCHEDULER_TICK_MS: '500', KEYTURN_RECONCILE_AFTER_MS: '5000' }));
  const ops = vaultOps(() => admin, () => aws.accountId);

  /** A secret whose key is never used: for the refusals, which change nothing. */
  const plainSecret = async (settings: Record<string, unknown> = {}) => {
    const r = await admin.post('/v1/secrets', {
      type: 'aws-iam-key',
      name: `plain-${Math.random().toString(36).slice(2, 8)}`,
      folder: '/e2e',
      username: 'nobody',
      accountId: aws.accountId,
      ...fakeKey(),
      settings,
    });
    expect(r.status).toBe(201);
    return r.body.id as string;
  };
  const refused = (r: { status: number; body: any }, field: string, reason: string) =>
    expect([r.status, r.body.code, r.body.details, r.body.message]).toEqual([400, 'INVALID_SCHEDULE', expect.objectContaining({ field, reason }), expect.stringContaining(field)]);

  beforeAll(async () => {
    aws = await AwsFixture.start();
    t = await createTestEnv();
    api = await startApi(t);
    admin = client(api.url, t.adminToken);
    db = await rawDb(t);
  });
  afterAll(async () => {
    await procs.stopAll();
    await db?.end();
    await api?.close();
    await t?.drop();
    await aws?.close();
  });

  it('refuses bad schedules and windows with INVALID_SCHEDULE naming the field, per secret, globally and in combination; nothing changes', async () => {
    const id = await plainSecret({ autoChangeSchedule: '0 3 * * *' });
    const state = async () => {
      const s = (await admin.get(`/v1/secrets/${id}`)).body;
      return { settings: s.settings, next: s.nextAutoChangeAt, global: (await admin.get('/v1/settings')).body };
    };
    const before = await state();
    expect(Date.parse(before.next)).toBeGreaterThan(Date.now() - MINUTE);
    expect(new Date(before.next).getUTCHours()).toBe(3);
    const count = async () => Number((await db.query(`SELECT count(*) FROM secrets`)).rows[0].count);
    const secretsBefore = await count();

    const cases: [Record<string, unknown>, string, string][] = [
      [{ autoChangeSchedule: '* * *' }, 'autoChangeSchedule', 'not-five-fields'],
      [{ autoChangeSchedule: '@hourly' }, 'autoChangeSchedule', 'not-five-fields'],
      [{ autoChangeSchedule: '*/10 * * * * *' }, 'autoChangeSchedule', 'seconds-field'],
      [{ autoChangeSchedule: '61 * * * *' }, 'autoChangeSchedule', 'unparseable'],
      [{ autoChangeSchedule: '0 0 30 2 *' }, 'autoChangeSchedule', 'never-fires'],
      [{ autoChangeSchedule: '*/5 * * * *', autoChangeWindowMinutes: 10 }, 'autoChangeWindowMinutes', 'window-too-long'],
      [{ autoChangeWindowMinutes: 1441 }, 'autoChangeWindowMinutes', 'window-too-long'],
    ];
    for (const [settings, field, reason] of cases) {
      refused(await admin.patch(`/v1/secrets/${id}`, { settings }), `settings.${field}`, reason);
      const created = { type: 'aws-iam-key', name: 'never', folder: '/e2e', username: 'nobody', accountId: aws.accountId, ...fakeKey() };
      refused(await admin.post('/v1/secrets', { ...created, settings: { autoChangeSchedule: '0 3 * * *', ...settings } }), `settings.${field}`, reason);
      // The global settings: the window alone has no global schedule to be too long for.
      if (!('autoChangeSchedule' in settings)) continue;
      refused(await admin.put('/v1/settings', settings), field, reason);
    }
    expect(await state()).toEqual(before);
    expect(await count()).toBe(secretsBefore);

    // The effective combination: a secret's window under the global schedule, and the global schedule over secrets' windows.
    const other = await plainSecret();
    const ok = await admin.put('/v1/settings', { autoChangeSchedule: '*/5 * * * *' });
    expect([ok.status, ok.body.autoChangeSchedule, ok.body.autoChangeWindowMinutes]).toEqual([200, '*/5 * * * *', 0]);
    refused(await admin.patch(`/v1/secrets/${other}`, { settings: { autoChangeWindowMinutes: 10 } }), 'settings.autoChangeWindowMinutes', 'window-too-long');
    expect((await admin.patch(`/v1/secrets/${other}`, { settings: { autoChangeWindowMinutes: 4 } })).status).toBe(200);
    const tooShort = await admin.put('/v1/settings', { autoChangeSchedule: '*/2 * * * *' });
    refused(tooShort, 'autoChangeSchedule', 'window-too-long');
    expect(tooShort.body.details.secretId).toBe(other);
    // The global window over a secret's own schedule (every 3 minutes, at 03:00 on 1 January only: it never fires during the test).
    const third = await plainSecret({ autoChangeSchedule: '*/3 3 1 1 *' });
    const wide = await admin.put('/v1/settings', { autoChangeWindowMinutes: 5 });
    refused(wide, 'autoChangeWindowMinutes', 'window-too-long');
    expect(wide.body.details.secretId).toBe(third);
    expect((await admin.get('/v1/settings')).body).toMatchObject({ autoChangeSchedule: '*/5 * * * *', autoChangeWindowMinutes: 0 });

    // The scheduler plans the secrets that follow the global schedule, and unplans them when it goes.
    const scheduler = await procs.start('heartbeat-scheduler');
    try {
      const planned: string = await eventually(async () => (await admin.get(`/v1/secrets/${other}`)).body.nextAutoChangeAt, 30_000);
      const row = (await db.query(`SELECT auto_change_scheduled_for AS at, auto_change_basis AS basis FROM secrets WHERE id = $1`, [other])).rows[0];
      expect([row.basis, row.at.getTime() % (5 * MINUTE)]).toEqual(['*/5 * * * *|4', 0]);
      // Inside the secret's own 4-minute window after the scheduled time.
      expect(Date.parse(planned) - row.at.getTime()).toBeGreaterThanOrEqual(0);
      expect(Date.parse(planned) - row.at.getTime()).toBeLessThan(4 * MINUTE);
      expect((await admin.put('/v1/settings', { autoChangeSchedule: null })).status).toBe(200);
      await eventually(async () => (await admin.get(`/v1/secrets/${other}`)).body.nextAutoChangeAt === null, 30_000);
      // The secret's own schedule stays as it was planned.
      expect((await admin.get(`/v1/secrets/${id}`)).body.nextAutoChangeAt).toBe(before.next);
    } finally {
      await scheduler.kill('SIGTERM');
      procs.forget(scheduler);
    }
  }, 120_000);

  it('* * * * * with a 1-minute window and two schedulers: exactly one rotation per minute, none skipped; the schedule beats a due interval', async () => {
    // Precedence, seen at the schedulers' first interval scan: two secrets whose 1-day interval is due (they look
    // two days old), one of them with a schedule. The scan changes the other one only.
    const intervalOnly = await plainSecret({ autoChangeIntervalDays: 1 });
    const scheduled = await plainSecret({ autoChangeIntervalDays: 1, autoChangeSchedule: '0 3 1 1 *' });
    await db.query(`UPDATE secrets SET created_at = now() - interval '2 days' WHERE id = ANY($1)`, [[intervalOnly, scheduled]]);
    // The processes first: a scheduled time whose window passed before any scheduler ran is a catch-up, which may skip a minute.
    await procs.start('rotation-worker');
    await procs.start('heartbeat-scheduler');
    await procs.start('heartbeat-scheduler');
    const byInterval = await eventually(async () => {
      const items: any[] = (await admin.get(`/v1/secrets/${intervalOnly}/rotations`)).body.items;
      return items.length ? items : null;
    }, 60_000);
    expect(byInterval.map((r) => [r.trigger, r.scheduledFor])).toEqual([['schedule', null]]);
    expect((await admin.get(`/v1/secrets/${scheduled}/rotations`)).body.items).toEqual([]);

    // The per-minute secret; its interval is due too.
    const s = await selfRotatingKeySecret(aws, ops, 'sched', { autoChangeSchedule: '* * * * *', autoChangeWindowMinutes: 1, autoChangeIntervalDays: 1 });
    await db.query(`UPDATE secrets SET created_at = now() - interval '2 days' WHERE id = $1`, [s.id]);
    const first = (await admin.get(`/v1/secrets/${s.id}`)).body;
    expect(first.effectiveSettings).toMatchObject({ autoChangeSchedule: '* * * * *', autoChangeWindowMinutes: 1, autoChangeIntervalDays: 1 });
    const firstNext = Date.parse(first.nextAutoChangeAt);
    expect(firstNext).toBeGreaterThan(Date.parse(first.createdAt));

    const seenNext = new Set<string>([first.nextAutoChangeAt]);
    const rotations = await eventually(
      async () => {
        const cur = (await admin.get(`/v1/secrets/${s.id}`)).body.nextAutoChangeAt;
        if (cur) seenNext.add(cur);
        const items: any[] = (await admin.get(`/v1/secrets/${s.id}/rotations`)).body.items;
        const done = items.filter((r) => r.status === 'succeeded' || r.status === 'failed');
        return done.length >= 3 && done.length === items.length ? items : null;
      },
      5 * MINUTE,
      1000,
    );

    const byTime = [...rotations].sort((a, b) => Date.parse(a.scheduledFor) - Date.parse(b.scheduledFor));
    // Every rotation was asked for by the schedule (none by the interval) and succeeded.
    expect(byTime.map((r) => [r.trigger, r.status, r.scheduledFor !== null])).toEqual(byTime.map(() => ['schedule', 'succeeded', true]));
    // One rotation per scheduled time, on whole minutes, one minute apart: none doubled by the second scheduler, none skipped.
    const times = byTime.map((r) => Date.parse(r.scheduledFor));
    expect(new Set(times).size).toBe(times.length);
    for (const tm of times) expect(tm % MINUTE).toBe(0);
    expect(times.slice(1).map((tm, i) => tm - times[i])).toEqual(times.slice(1).map(() => MINUTE));
    // Each was requested inside its own minute's window or after it, never before its time.
    for (const r of byTime) expect(Date.parse(r.createdAt)).toBeGreaterThanOrEqual(Date.parse(r.scheduledFor));
    expect(times[0]).toBe(Math.floor(firstNext / MINUTE) * MINUTE);

    // nextAutoChangeAt moved forward with each scheduled time, and stays ahead of the last one.
    const nexts = [...seenNext].map(Date.parse).sort((a, b) => a - b);
    expect(nexts.length).toBeGreaterThanOrEqual(3);
    expect(nexts.at(-1)!).toBeGreaterThan(times.at(-1)!);
    const rows = (await db.query(`SELECT scheduled_for, count(*)::int AS n FROM rotations WHERE secret_id = $1 GROUP BY 1`, [s.id])).rows;
    expect(rows.every((r) => r.n === 1)).toBe(true);
  }, 7 * MINUTE);
});
