import { Global, Inject, Injectable, Module } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { IamErrorCode } from '@keyturn/contracts';
import { KEYTURN_CONFIG, loadConfig } from '@keyturn/config';
import { AwsIamClient, IAM_CLIENT, IamError, sdkCallBudgetMs, type IamClient } from '@keyturn/iam';
import { REDIS } from '@keyturn/queue';
import { awsClientOptions, createWindowMs, pacerMaxWaitMs } from './aws-budget.js';
import { jobIam } from './paced-iam.client.js';
import { engineIamModule } from './rotation.module.js';

// The worker's IamClient: built by IamModule from the configuration, every call
// paced per AWS account by a decorator over it, with the same bounds as before
// (pacer wait = one request timeout; the adapter's call budget from the AWS settings).

const config = loadConfig({
  AWS_REGION: 'eu-west-1',
  KEYTURN_AWS_MAX_ATTEMPTS: '2',
  KEYTURN_AWS_TIMEOUT_MS: '1500',
  KEYTURN_AWS_RATE_PER_ACCOUNT: '4',
  KEYTURN_AWS_CLIENT_CACHE: '3',
  KEYTURN_QUEUE_PREFIX: 'kt-spec',
});

/** Stands in for Redis under AccountPacer: records each reservation and answers the wait the test sets. */
class FakeRedis {
  readonly evals: unknown[][] = [];
  waitMs = 0;
  async eval(_script: string, ...args: unknown[]): Promise<number> {
    this.evals.push(args);
    return this.waitMs;
  }
  /** After its first call the pacer's script goes by its SHA1 (LuaScript: EVALSHA); here it is an eval like any other. */
  async evalsha(_sha: string, ...args: unknown[]): Promise<number> {
    return this.eval('', ...args);
  }
}

@Injectable()
class NeedsIam {
  constructor(@Inject(IAM_CLIENT) readonly iam: IamClient) {}
}

async function workerIam() {
  const redis = new FakeRedis();
  @Global()
  @Module({ providers: [{ provide: KEYTURN_CONFIG, useValue: config }, { provide: REDIS, useValue: redis }], exports: [KEYTURN_CONFIG, REDIS] })
  class AppWide {}
  const moduleRef = await Test.createTestingModule({ imports: [AppWide, engineIamModule()], providers: [NeedsIam] }).compile();
  return { moduleRef, redis, iam: moduleRef.get(NeedsIam).iam };
}

const CREDS = { accessKeyId: 'AKIAIOSFODNN7EXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY' };

describe('the rotation worker builds its IamClient through IamModule', () => {
  it('the adapter under it has the configured region and call budget', async () => {
    const { moduleRef, iam } = await workerIam();
    // The pacing decorator passes plain properties through to the adapter.
    expect((iam as AwsIamClient).region).toBe('eu-west-1');
    expect((iam as AwsIamClient).callBudgetMs).toBe(sdkCallBudgetMs({ maxAttempts: 2, requestTimeoutMs: 1500 }));
    expect(awsClientOptions(config)).toEqual({ region: 'eu-west-1', maxAttempts: 2, requestTimeoutMs: 1500, maxCachedClients: 3 });
    expect(createWindowMs(config)).toBe(1500 + sdkCallBudgetMs({ maxAttempts: 2, requestTimeoutMs: 1500 }));
    await moduleRef.close();
  });

  it("every call in an account first takes that account's token at the configured rate, waiting at most one request timeout", async () => {
    const { moduleRef, redis, iam } = await workerIam();
    expect(pacerMaxWaitMs(config)).toBe(1500);
    redis.waitMs = 1501;
    let caught: unknown;
    await jobIam(iam, '123456789012').createAccessKey(CREDS, 'alice').catch((e: unknown) => (caught = e));
    expect(caught).toBeInstanceOf(IamError);
    expect(caught).toMatchObject({ code: IamErrorCode.Throttled, retryable: true, action: 'iam:CreateAccessKey' });
    expect((caught as IamError).message).toContain('within 1500 ms');
    // One reservation in the account's allowance: a turn every 250 ms (4/s), a burst of 4 (750 ms of tolerance), at most 1500 ms away.
    expect(redis.evals).toEqual([[1, 'kt-spec:pacer:123456789012', 250, 750, 1500]]);
    await moduleRef.close();
  });

  it('closes the adapter when the worker shuts down', async () => {
    const { moduleRef, iam } = await workerIam();
    // Without a set trap the decorator forwards the assignment to the adapter itself.
    const adapter = iam as AwsIamClient;
    let closed = 0;
    const close = adapter.close.bind(adapter);
    adapter.close = async () => {
      closed++;
      await close();
    };
    await moduleRef.close();
    expect(closed).toBe(1);
  });
});
