import {
  assertScheduleSettings,
  cronProblem,
  followingScheduledChange,
  nextScheduledChange,
  plannedScheduleState,
  scheduleBasis,
  scheduleProblem,
  shortestPeriodMinutes,
} from './schedule.js';
import { DEFAULT_SETTINGS, SETTINGS, effectiveSettings } from './settings.js';
import { KeyturnError } from './errors/index.js';

const at = (iso: string) => new Date(iso);
const MIN = 60_000;

/** The INVALID_SCHEDULE details `fn` throws with, or a failure naming what it did instead. */
function refusal(fn: () => void): Record<string, unknown> {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(KeyturnError);
    expect((e as KeyturnError).code).toBe('INVALID_SCHEDULE');
    return (e as KeyturnError).details!;
  }
  throw new Error('not refused');
}

describe('schedule validation', () => {
  it('accepts 5-field expressions that fire', () => {
    for (const ok of ['* * * * *', '*/5 * * * *', '0 3 * * 1', '0 12 * * MON-FRI', '0 0 29 2 *', '15 2 1,15 * *']) expect(cronProblem(ok)).toBeNull();
  });

  it('refuses each kind of bad expression with its reason', () => {
    expect(cronProblem('* * *')).toEqual({ reason: 'not-five-fields', fields: 3 });
    expect(cronProblem('')).toEqual({ reason: 'not-five-fields', fields: 0 });
    expect(cronProblem('@daily')).toEqual({ reason: 'not-five-fields', fields: 1 });
    expect(cronProblem('0 0 1 1 * 2030 x')).toEqual({ reason: 'not-five-fields', fields: 7 });
    // A sixth field is a seconds field: it would fire more than once a minute.
    expect(cronProblem('*/10 * * * * *')).toEqual({ reason: 'seconds-field' });
    expect(cronProblem('61 * * * *')).toEqual({ reason: 'unparseable', detail: expect.stringContaining('minute') });
    expect(cronProblem('a b c d e')).toMatchObject({ reason: 'unparseable' });
    expect(cronProblem('*/0 * * * *')).toMatchObject({ reason: 'unparseable' });
    // croner would put the parse moment in place of '?': a schedule that moves.
    expect(cronProblem('0 ? * * *')).toMatchObject({ reason: 'unparseable', detail: expect.stringContaining("'?'") });
    expect(cronProblem('0 0 30 2 *')).toEqual({ reason: 'never-fires' });
    expect(cronProblem('0 0 31 4 *')).toEqual({ reason: 'never-fires' });
  });

  it('finds the shortest period between fire times, across hours and days', () => {
    expect(shortestPeriodMinutes('* * * * *')).toBe(1);
    expect(shortestPeriodMinutes('*/5 * * * *')).toBe(5);
    // 56 → 00 of the next hour.
    expect(shortestPeriodMinutes('*/7 * * * *')).toBe(4);
    expect(shortestPeriodMinutes('0 3 * * *')).toBe(1440);
    // 23:00 one day → 01:00 the next.
    expect(shortestPeriodMinutes('0 1,23 * * *')).toBe(120);
    // Mondays and Tuesdays: one day apart, not a week.
    expect(shortestPeriodMinutes('0 3 * * 1,2', at('2026-01-01T00:00:00Z'))).toBe(1440);
  });

  it('refuses a window longer than the shortest period, and accepts one as long', () => {
    expect(scheduleProblem('*/5 * * * *', 10)).toEqual({ reason: 'window-too-long', windowMinutes: 10, periodMinutes: 5 });
    expect(scheduleProblem('*/5 * * * *', 5)).toBeNull();
    expect(scheduleProblem('* * * * *', 1)).toBeNull();
    expect(scheduleProblem('* * * * *', 2)).toMatchObject({ reason: 'window-too-long' });
  });

  it('names the field that was sent, judged in the combination it ends up in', () => {
    const eff = (own: object, global: object = {}) => effectiveSettings({ ...DEFAULT_SETTINGS, ...global }, own);
    expect(refusal(() => assertScheduleSettings(eff({ autoChangeSchedule: '0 0 30 2 *' }), { autoChangeSchedule: '0 0 30 2 *' }, 'settings.'))).toEqual({
      field: 'settings.autoChangeSchedule',
      reason: 'never-fires',
    });
    // A secret's window under the global schedule.
    expect(refusal(() => assertScheduleSettings(eff({ autoChangeWindowMinutes: 10 }, { autoChangeSchedule: '*/5 * * * *' }), { autoChangeWindowMinutes: 10 }, 'settings.'))).toEqual({
      field: 'settings.autoChangeWindowMinutes',
      reason: 'window-too-long',
    });
    // A secret's schedule under the global window.
    expect(refusal(() => assertScheduleSettings(eff({ autoChangeSchedule: '*/5 * * * *' }, { autoChangeWindowMinutes: 10 }), { autoChangeSchedule: '*/5 * * * *' }, 'settings.'))).toEqual({
      field: 'settings.autoChangeSchedule',
      reason: 'window-too-long',
    });
    expect(refusal(() => assertScheduleSettings(eff({}, { autoChangeSchedule: '* * * * * *' }), { autoChangeSchedule: '* * * * * *' }))).toEqual({
      field: 'autoChangeSchedule',
      reason: 'seconds-field',
    });
    // A window without any schedule is accepted (and ignored); so is a change that touches neither setting.
    expect(() => assertScheduleSettings(eff({ autoChangeWindowMinutes: 600 }), { autoChangeWindowMinutes: 600 }, 'settings.')).not.toThrow();
    expect(() => assertScheduleSettings(eff({}, { autoChangeSchedule: '*/5 * * * *' }), { passwordLength: 30 } as object, 'settings.')).not.toThrow();
  });

  it('is declared in the one settings schema', () => {
    expect(SETTINGS.autoChangeSchedule).toMatchObject({ kind: 'string', format: 'cron', nullable: true, default: null });
    expect(SETTINGS.autoChangeWindowMinutes).toMatchObject({ kind: 'integer', min: 0, default: 0 });
  });
});

describe('next scheduled change', () => {
  it('starts at a uniformly random moment inside [scheduled time, scheduled time + window)', () => {
    const from = at('2026-03-01T10:00:30Z');
    expect(nextScheduledChange('0 * * * *', 30, from, () => 0)).toEqual({ scheduledFor: at('2026-03-01T11:00:00Z'), at: at('2026-03-01T11:00:00Z') });
    const last = nextScheduledChange('0 * * * *', 30, from, () => 0.999_999_999)!;
    expect(last.at.getTime()).toBeLessThan(at('2026-03-01T11:30:00Z').getTime());
    expect(last.at.getTime()).toBeGreaterThanOrEqual(at('2026-03-01T11:29:59Z').getTime());
    for (let i = 0; i < 200; i++) {
      const n = nextScheduledChange('*/5 * * * *', 5, from, Math.random)!;
      expect(n.scheduledFor).toEqual(at('2026-03-01T10:05:00Z'));
      expect(n.at.getTime() - n.scheduledFor.getTime()).toBeGreaterThanOrEqual(0);
      expect(n.at.getTime() - n.scheduledFor.getTime()).toBeLessThan(5 * MIN);
    }
    // Without a window: at the scheduled time exactly. Times are UTC.
    expect(nextScheduledChange('0 3 * * *', 0, from, Math.random)).toEqual({ scheduledFor: at('2026-03-02T03:00:00Z'), at: at('2026-03-02T03:00:00Z') });
  });

  it('follows the time just requested with the next one, even when it is requested late inside its window', () => {
    // Scheduled 10:00, started at 10:00:59.9 and claimed at 10:01:00.4: the 10:01 time is not skipped.
    const n = followingScheduledChange('* * * * *', 1, at('2026-03-01T10:00:00Z'), at('2026-03-01T10:01:00.400Z'), () => 0.5);
    expect(n).toEqual({ scheduledFor: at('2026-03-01T10:01:00Z'), at: at('2026-03-01T10:01:30Z') });
  });

  it('after downtime: one catch-up change for all the missed times, then the first time whose window is still open', () => {
    const n = followingScheduledChange('*/5 * * * *', 0, at('2026-03-01T10:00:00Z'), at('2026-03-01T13:02:00Z'), () => 0);
    expect(n!.scheduledFor).toEqual(at('2026-03-01T13:05:00Z'));
    const w = followingScheduledChange('*/5 * * * *', 5, at('2026-03-01T10:00:00Z'), at('2026-03-01T13:02:00Z'), () => 0);
    expect(w!.scheduledFor).toEqual(at('2026-03-01T13:00:00Z'));
  });

  it('plans nothing without a schedule; the basis names the schedule and window', () => {
    expect(plannedScheduleState({ autoChangeSchedule: null, autoChangeWindowMinutes: 10 }, new Date())).toEqual({
      nextAutoChangeAt: null,
      autoChangeScheduledFor: null,
      autoChangeBasis: null,
    });
    const p = plannedScheduleState({ autoChangeSchedule: '0 3 * * *', autoChangeWindowMinutes: 10 }, at('2026-03-01T10:00:00Z'), () => 0.5);
    expect(p).toEqual({ nextAutoChangeAt: at('2026-03-02T03:05:00Z'), autoChangeScheduledFor: at('2026-03-02T03:00:00Z'), autoChangeBasis: '0 3 * * *|10' });
    expect(scheduleBasis('0 3 * * *', 10)).toBe('0 3 * * *|10');
  });

  it("precedence: a global schedule applies beside a secret's own interval, and plans by the schedule", () => {
    // The effective settings keep both; the scheduler goes by the schedule whenever one applies (dueForAutoChange skips such secrets).
    const eff = effectiveSettings({ ...DEFAULT_SETTINGS, autoChangeSchedule: '0 3 * * *' }, { autoChangeIntervalDays: 1 });
    expect([eff.autoChangeSchedule, eff.autoChangeIntervalDays]).toEqual(['0 3 * * *', 1]);
    expect(plannedScheduleState(eff, at('2026-03-01T10:00:00Z')).autoChangeScheduledFor).toEqual(at('2026-03-02T03:00:00Z'));
  });
});
