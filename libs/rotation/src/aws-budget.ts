import type { KeyturnConfig } from '@keyturn/config';
import { sdkCallBudgetMs, type AwsIamClientOptions } from '@keyturn/iam';

/** The AWS SDK settings every Keyturn process uses, from the validated configuration. */
export function awsClientOptions(c: KeyturnConfig): AwsIamClientOptions {
  return { region: c.aws.region, maxAttempts: c.aws.maxAttempts, requestTimeoutMs: c.aws.timeoutMs, maxCachedClients: c.aws.clientCache };
}

/**
 * How long a call may wait for its account's pacer token before giving up as
 * IAM_THROTTLED: one request timeout. Long enough for a busy fleet to take
 * turns, short enough to keep the orphan window small.
 */
export function pacerMaxWaitMs(c: KeyturnConfig): number {
  return c.aws.timeoutMs;
}

/** From "about to create" to the last moment this attempt's CreateAccessKey can create a key. */
export function createWindowMs(c: KeyturnConfig): number {
  return pacerMaxWaitMs(c) + sdkCallBudgetMs(awsClientOptions(c));
}
