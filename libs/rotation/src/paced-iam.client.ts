import { AsyncLocalStorage } from 'node:async_hooks';
import { IamErrorCode } from '@keyturn/contracts';
import { IamError, type IamClient } from '@keyturn/iam';
import { waitForTurn, type AccountPacer } from '@keyturn/queue';

/**
 * What a paced call needs to know of the job it runs in: the AWS account the current rotation or
 * heartbeat works in (set by the runners, `inAccount`), and the turn its admission took (set by the
 * worker, `withPrepaidTurn`). One store for both: every enabled AsyncLocalStorage costs a little on
 * every promise the process makes.
 */
interface JobContext {
  accountId?: string;
  turn?: PrepaidTurn;
}

const jobContext = new AsyncLocalStorage<JobContext>();

export function inAccount<T>(accountId: string, fn: () => Promise<T>): Promise<T> {
  return jobContext.run({ ...jobContext.getStore(), accountId }, fn);
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

  /** The turn, once, for a call in its account: the ms left until it comes; undefined when it is not there to take. */
  take(accountId: string, now = Date.now()): number | undefined {
    if (this.used || this.readyAt === undefined || accountId !== this.accountId) return undefined;
    this.used = true;
    return Math.max(0, this.readyAt - now);
  }
}

/** Runs a job with the turn its admission took: its first paced call in that account uses it. */
export function withPrepaidTurn<T>(turn: PrepaidTurn, fn: () => Promise<T>): Promise<T> {
  return jobContext.run({ ...jobContext.getStore(), turn }, fn);
}

/** "createAccessKey" → "iam:CreateAccessKey" (and STS's one call), for messages. */
function actionName(method: string): string {
  const name = method.charAt(0).toUpperCase() + method.slice(1);
  return method === 'getCallerIdentity' ? `sts:${name}` : `iam:${name}`;
}

/**
 * Every IAM and STS call waits for a token of its account's shared bucket, so
 * a fleet of workers stays under the account's rate. The wait is bounded by
 * `maxWaitMs` (a turn taken ahead, PrepaidTurn, was bounded by it too): past it the call gives up as a retryable IAM_THROTTLED without
 * reaching AWS, so the time from "about to create" to the end of a
 * CreateAccessKey stays finite (the orphan window depends on it). Calls made
 * outside an account context (none today) are not paced.
 */
export function pacedIamClient(inner: IamClient, pacer: AccountPacer, maxWaitMs: number): IamClient {
  return new Proxy(inner, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver);
      if (typeof value !== 'function') return value;
      return async (...args: unknown[]) => {
        const job = jobContext.getStore();
        const account = job?.accountId;
        const prepaid = account ? job?.turn?.take(account) : undefined;
        if (prepaid !== undefined) await waitForTurn(prepaid);
        else if (account && !(await pacer.take(account, maxWaitMs))) {
          const action = actionName(String(prop));
          throw new IamError(IamErrorCode.Throttled, { kind: 'pacer', action, accountId: account, maxWaitMs });
        }
        return (value as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
}
