import { Cron } from 'croner';
import { ErrorCode, KeyturnError } from './errors/index.js';

/**
 * Automatic-change schedules (issue 12 item 5): a 5-field cron expression in
 * UTC and a window in minutes; each change starts at a uniformly random moment
 * inside [scheduled time, scheduled time + window). croner parses and steps
 * the expressions (standard cron semantics: day of month OR day of week).
 */

const MINUTE_MS = 60_000;

/** Why an expression or a window is refused; each has its own message in INVALID_SCHEDULE. */
export type ScheduleProblem =
  | { reason: 'not-five-fields'; fields: number }
  | { reason: 'seconds-field' }
  | { reason: 'unparseable'; detail: string }
  | { reason: 'never-fires' }
  | { reason: 'window-too-long'; windowMinutes: number; periodMinutes: number };

/** How far the shortest gap between fire times is looked for: a year of runs, at most this many of them. */
const PERIOD_HORIZON_MS = 366 * 86_400_000;
const PERIOD_MAX_RUNS = 500;

function cronOf(expression: string): Cron {
  return new Cron(expression, { mode: '5-part', timezone: 'Etc/UTC', paused: true });
}

/** The expression's problem, or null when it is a 5-field cron expression that fires. */
export function cronProblem(expression: string): ScheduleProblem | null {
  const fields = expression.trim().split(/\s+/).filter(Boolean).length;
  // A sixth field is croner's seconds field: a schedule that could fire more than once a minute.
  if (fields === 6) return { reason: 'seconds-field' };
  if (fields !== 5) return { reason: 'not-five-fields', fields };
  // croner reads '?' as "the value of the moment it parses", so the schedule would move at every parse.
  if (expression.includes('?')) return { reason: 'unparseable', detail: "'?' is not supported; use '*'" };
  let cron: Cron;
  try {
    cron = cronOf(expression);
  } catch (e) {
    return { reason: 'unparseable', detail: (e as Error).message.replace(/^CronPattern: /, '') };
  }
  return cron.nextRun(new Date()) ? null : { reason: 'never-fires' };
}

const periods = new Map<string, number>();

/**
 * The shortest gap between consecutive fire times, in minutes, over a year of
 * runs from `from` (at most 500 runs: a denser schedule's shortest gap shows
 * long before). Infinity for one that fires once in that horizon. Cached per
 * expression: the validation of every request with a schedule asks it.
 */
export function shortestPeriodMinutes(expression: string, from: Date = new Date()): number {
  const known = periods.get(expression);
  if (known !== undefined) return known;
  const cron = cronOf(expression);
  let prev = cron.nextRun(from);
  let shortest = Infinity;
  const end = (prev?.getTime() ?? 0) + PERIOD_HORIZON_MS;
  for (let i = 0; prev && i < PERIOD_MAX_RUNS && shortest > 1; i++) {
    const next = cron.nextRun(prev);
    if (!next || next.getTime() > end) break;
    shortest = Math.min(shortest, (next.getTime() - prev.getTime()) / MINUTE_MS);
    prev = next;
  }
  if (periods.size > 1000) periods.clear();
  periods.set(expression, shortest);
  return shortest;
}

/** The problem of a schedule with a window: the expression's own, or a window longer than its shortest period. */
export function scheduleProblem(expression: string, windowMinutes: number): ScheduleProblem | null {
  const own = cronProblem(expression);
  if (own) return own;
  const periodMinutes = shortestPeriodMinutes(expression);
  return windowMinutes > periodMinutes ? { reason: 'window-too-long', windowMinutes, periodMinutes } : null;
}

/** What a secret's schedule is computed from; a change of either part makes a new next time. */
export function scheduleBasis(expression: string | null, windowMinutes: number): string | null {
  return expression === null ? null : `${expression}|${windowMinutes}`;
}

export interface ScheduledChange {
  /** The scheduled (fire) time. */
  scheduledFor: Date;
  /** When the change starts: scheduledFor plus a uniformly random offset inside the window. */
  at: Date;
}

/**
 * The next scheduled change after `after` (a fire time strictly later), or
 * null for a schedule that no longer fires. `random` is in [0, 1).
 */
export function nextScheduledChange(expression: string, windowMinutes: number, after: Date, random: () => number): ScheduledChange | null {
  const fire = cronOf(expression).nextRun(after);
  if (!fire) return null;
  const offset = Math.floor(random() * windowMinutes * MINUTE_MS);
  return { scheduledFor: fire, at: new Date(fire.getTime() + offset) };
}

/**
 * The change that follows the one scheduled for `scheduledFor`, now that it has
 * been requested. Fire times whose whole window has already passed (the
 * scheduler was down) are not made up one by one: the change just requested
 * is their catch-up. The next is the first fire time after `scheduledFor`
 * whose window is still open at `now`.
 */
export function followingScheduledChange(
  expression: string,
  windowMinutes: number,
  scheduledFor: Date,
  now: Date,
  random: () => number,
): ScheduledChange | null {
  const missedBefore = now.getTime() - windowMinutes * MINUTE_MS;
  return nextScheduledChange(expression, windowMinutes, new Date(Math.max(scheduledFor.getTime(), missedBefore)), random);
}

/** The two settings a schedule is made of, as they apply (a secret's own over the global ones). */
export interface ScheduleSettings {
  autoChangeSchedule: string | null;
  autoChangeWindowMinutes: number;
}

/**
 * Refuses (400 INVALID_SCHEDULE, naming the field) the schedule or window that
 * `changed` carries, judged in the combination it ends up in (`effective`): a
 * secret's window against the global schedule, and the other way round. A
 * window without any schedule is accepted and ignored. `prefix` is how the
 * field is named in the request (`settings.` on a secret).
 */
export function assertScheduleSettings(
  effective: ScheduleSettings,
  changed: { autoChangeSchedule?: string | null; autoChangeWindowMinutes?: number | null },
  prefix = '',
): void {
  const scheduleField = `${prefix}autoChangeSchedule`;
  if (typeof changed.autoChangeSchedule === 'string') {
    const problem = cronProblem(changed.autoChangeSchedule);
    if (problem) throw new KeyturnError(ErrorCode.INVALID_SCHEDULE, { field: scheduleField, problem });
  }
  if (effective.autoChangeSchedule === null) return;
  if (changed.autoChangeSchedule === undefined && changed.autoChangeWindowMinutes === undefined) return;
  const problem = scheduleProblem(effective.autoChangeSchedule, effective.autoChangeWindowMinutes);
  if (problem) {
    const field = changed.autoChangeWindowMinutes !== undefined ? `${prefix}autoChangeWindowMinutes` : scheduleField;
    throw new KeyturnError(ErrorCode.INVALID_SCHEDULE, { field, problem });
  }
}

/** Where a secret's next automatic change stands: what the scheduler reads, and `nextAutoChangeAt` in its metadata. */
export interface ScheduleState {
  nextAutoChangeAt: Date | null;
  autoChangeScheduledFor: Date | null;
  autoChangeBasis: string | null;
}

/** A schedule's first change after `now` (none without a schedule), with a fresh random offset. */
export function plannedScheduleState(s: ScheduleSettings, now: Date, random: () => number = Math.random): ScheduleState {
  const basis = scheduleBasis(s.autoChangeSchedule, s.autoChangeWindowMinutes);
  const next = s.autoChangeSchedule === null ? null : nextScheduledChange(s.autoChangeSchedule, s.autoChangeWindowMinutes, now, random);
  return { nextAutoChangeAt: next?.at ?? null, autoChangeScheduledFor: next?.scheduledFor ?? null, autoChangeBasis: basis };
}
