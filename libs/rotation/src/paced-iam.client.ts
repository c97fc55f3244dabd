import { AsyncLocalStorage } from 'node:async_hooks';
import type { IamClient } from '@keyturn/iam';
import type { AccountPacer } from '@keyturn/queue';

/** The AWS account the current rotation or heartbeat works in; set by the runners. */
export const accountContext = new AsyncLocalStorage<string>();

export function inAccount<T>(accountId: string, fn: () => Promise<T>): Promise<T> {
  return accountContext.run(accountId, fn);
}

/**
 * Every IAM and STS call waits for a token of its account's shared bucket, so
 * a fleet of workers stays under the account's rate. Calls made outside an
 * account context (none today) are not paced.
 */
export function pacedIamClient(inner: IamClient, pacer: AccountPacer): IamClient {
  return new Proxy(inner, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver);
      if (typeof value !== 'function') return value;
      return async (...args: unknown[]) => {
        const account = accountContext.getStore();
        if (account) await pacer.take(account);
        return (value as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
}
