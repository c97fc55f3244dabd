import { IamErrorCode } from '@keyturn/contracts';
import { IamError, type IamClient } from '@keyturn/iam';
import { waitForTurn, type AccountPacer } from '@keyturn/queue';

/**
 * What a paced call needs to know of the job it runs in: the AWS account the rotation, heartbeat or
 * discovery works in, and the turn its admission took. Handed to the job's own client (`jobIam`), not
 * carried by an AsyncLocalStorage: on Node 20 an enabled one runs a hook on every promise of the
 * process, ≈0.04 ms of CPU per SDK call (docs/performance.md).
 */
interface JobScope {
  accountId: string;
  turn?: PrepaidTurn;
  /** The turn of the job's next call, being taken while the job writes what must come before that call (takeNextTurnNow). */
  ahead?: TurnAhead;
}

/**
 * A turn of an account's pace taken before the job's first AWS call (by the
 * worker's fair-share admission, in the same round trip): that call uses it
 * instead of asking the pacer. Used once; a job that makes no call in that
 * account leaves it unused, an allowance given up, never one exceeded.
 */
export class PrepaidTurn {
  private readyAt: number | undefined;
  private used = false;

  /** Without `waitMs`, the turn is there only once granted (`grant`). */
  constructor(
    readonly accountId: string,
    waitMs?: number,
    now = Date.now(),
  ) {
    if (waitMs !== undefined) this.readyAt = now + waitMs;
  }

  /**
   * The turn, known after the job started: a heartbeat's admission answers
   * alongside its claim, before the heartbeat's first AWS call.
   */
  grant(waitMs: number, now = Date.now()): void {
    this.readyAt = now + waitMs;
  }

  /** True while the turn is there for a call in `accountId` and not taken yet. */
  unusedFor(accountId: string): boolean {
    return !this.used && this.readyAt !== undefined && accountId === this.accountId;
  }

  /** The turn, once, for a call in its account: the ms left until it comes; undefined when it is not there to take. */
  take(accountId: string, now = Date.now()): number | undefined {
    if (this.used || this.readyAt === undefined || accountId !== this.accountId) return undefined;
    this.used = true;
    return Math.max(0, this.readyAt - now);
  }
}

/**
 * A turn asked of the pacer before the call it is for, while the job does
 * the one write that call must wait for: its Redis round trip then costs the
 * job no time of its own. Resolves to the turn's time (epoch ms), or
 * undefined when none was taken (it would have come past the bound, or Redis
 * failed: the call then asks the pacer itself, and meets the same answer).
 */
class TurnAhead {
  private readonly readyAt: Promise<number | undefined>;
  private used = false;

  constructor(
    readonly accountId: string,
    reservation: Promise<number | undefined>,
  ) {
    this.readyAt = reservation.then(
      (wait) => (wait === undefined ? undefined : Date.now() + wait),
      () => undefined,
    );
  }

  /** True while the turn is there (or on its way) for a call in `accountId` and not taken yet. */
  unusedFor(accountId: string): boolean {
    return !this.used && accountId === this.accountId;
  }

  /** The turn, once, for a call in its account: the ms left until it comes, undefined when none was taken; undefined at once when it is not there to take. */
  take(accountId: string): Promise<number | undefined> | undefined {
    if (!this.unusedFor(accountId)) return undefined;
    this.used = true;
    return this.readyAt.then((at) => (at === undefined ? undefined : Math.max(0, at - Date.now())));
  }
}

const TURN_AHEAD = Symbol('takeNextTurnNow');
const FOR_JOB = Symbol('jobIam');

/**
 * Starts taking the turn of the job's next AWS call now, so that the pacer's
 * round trip runs alongside the write the caller is about to make before that
 * call. Only right before such a write, with nothing slow between it and the
 * call: a turn counts from when it is taken, so one held for long would let
 * calls bunch up. A job's next call takes at most one turn this way; one left
 * unused (the write failed) is an allowance given up, never one exceeded. No
 * effect outside a job's account, on a client that is not paced, or while the
 * turn the admission took is still unused.
 */
export function takeNextTurnNow(iam: IamClient): void {
  (iam as unknown as Partial<Record<typeof TURN_AHEAD, () => void>>)[TURN_AHEAD]?.();
}

/**
 * The IAM client of one job working in `accountId`: on a paced client (pacedIamClient), every call of
 * it waits for the account's pace, its first in that account on `turn` (the admission's) when there is
 * one. Any other client (a test's fake, the API's, a job's own) is returned as it is.
 */
export function jobIam(iam: IamClient, accountId: string, turn?: PrepaidTurn): IamClient {
  const forJob = (iam as unknown as Partial<Record<typeof FOR_JOB, (job: JobScope) => IamClient>>)[FOR_JOB];
  return forJob ? forJob({ accountId, ...(turn ? { turn } : {}) }) : iam;
}

/** "createAccessKey" → "iam:CreateAccessKey" (and STS's one call), for messages. */
function actionName(method: string): string {
  const name = method.charAt(0).toUpperCase() + method.slice(1);
  return method === 'getCallerIdentity' ? `sts:${name}` : `iam:${name}`;
}

/**
 * Every IAM and STS call waits for a token of its account's shared bucket, so
 * a fleet of workers stays under the account's rate. The wait is bounded by
 * `maxWaitMs` (a turn taken ahead, PrepaidTurn or TurnAhead, was bounded by it too): past it the call gives up as a retryable IAM_THROTTLED without
 * reaching AWS, so the time from "about to create" to the end of a
 * CreateAccessKey stays finite (the orphan window depends on it). Only the
 * calls of a job's client (`jobIam`) are paced: that is where the account is
 * known.
 */
export function pacedIamClient(inner: IamClient, pacer: AccountPacer, maxWaitMs: number): IamClient {
  const forJob = (job: JobScope): IamClient => {
    const account = job.accountId;
    const takeAhead = () => {
      if (job.ahead?.unusedFor(account) || job.turn?.unusedFor(account)) return;
      job.ahead = new TurnAhead(account, pacer.reserveWithin(account, maxWaitMs));
    };
    /** The turn this call already has (the admission's, or one taken ahead): the ms until it comes; undefined when it has none. */
    const turnInHand = (): number | Promise<number | undefined> | undefined => job.turn?.take(account) ?? job.ahead?.take(account);
    return new Proxy(inner, {
      get(target, prop, receiver) {
        if (prop === TURN_AHEAD) return takeAhead;
        const value = Reflect.get(target, prop, receiver);
        if (typeof value !== 'function') return value;
        return async (...args: unknown[]) => {
          // Both are used once: a call cannot spend a turn twice.
          let prepaid = turnInHand();
          if (prepaid instanceof Promise) prepaid = await prepaid;
          if (prepaid !== undefined) await waitForTurn(prepaid);
          else if (!(await pacer.take(account, maxWaitMs))) {
            const action = actionName(String(prop));
            throw new IamError(IamErrorCode.Throttled, { kind: 'pacer', action, accountId: account, maxWaitMs });
          }
          return (value as (...a: unknown[]) => unknown).apply(target, args);
        };
      },
    });
  };
  // Outside a job (no account) calls are not paced: none is made today. A job's client comes from jobIam.
  return new Proxy(inner, {
    get(target, prop, receiver) {
      return prop === FOR_JOB ? forJob : Reflect.get(target, prop, receiver);
    },
  });
}
