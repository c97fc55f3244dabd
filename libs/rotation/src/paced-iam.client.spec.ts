import { IamErrorCode } from '@keyturn/contracts';
import { IamError, type IamClient } from '@keyturn/iam';
import type { AccountPacer } from '@keyturn/queue';
import { PrepaidTurn, jobIam, pacedIamClient, takeNextTurnNow } from './paced-iam.client.js';

const CREDS = { accessKeyId: 'AKIAIOSFODNN7EXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY' };

function fakes(granted: boolean) {
  const calls: string[] = [];
  const waits: (number | undefined)[] = [];
  const inner = {
    createAccessKey: async () => {
      calls.push('createAccessKey');
      return { accessKeyId: 'AKIANEW', secretAccessKey: 's', status: 'Active', userName: 'u' };
    },
  } as unknown as IamClient;
  const pacer = {
    take: async (_account: string, maxWaitMs?: number) => {
      waits.push(maxWaitMs);
      return granted;
    },
  } as unknown as AccountPacer;
  return { inner, pacer, calls, waits };
}

describe('pacedIamClient', () => {
  it('waits for a token of the account, at most maxWaitMs, then calls AWS', async () => {
    const f = fakes(true);
    const client = pacedIamClient(f.inner, f.pacer, 1_500);
    await jobIam(client, '123456789012').createAccessKey(CREDS, 'u');
    expect(f.waits).toEqual([1_500]);
    expect(f.calls).toEqual(['createAccessKey']);
  });

  it('outside a job (no account) does not pace: the call goes straight to AWS', async () => {
    const f = fakes(false);
    await pacedIamClient(f.inner, f.pacer, 1_500).createAccessKey(CREDS, 'u');
    expect(f.waits).toEqual([]);
    expect(f.calls).toEqual(['createAccessKey']);
  });

  it('a client that is not paced (a fake, the API\'s) is its own job client', () => {
    const f = fakes(true);
    expect(jobIam(f.inner, '123456789012')).toBe(f.inner);
  });

  it('gives up with a retryable IAM_THROTTLED, without calling AWS, when no token comes within the bound', async () => {
    const f = fakes(false);
    const client = pacedIamClient(f.inner, f.pacer, 1_500);
    let caught: unknown;
    await jobIam(client, '123456789012').createAccessKey(CREDS, 'u').catch((e: unknown) => (caught = e));
    expect(caught).toBeInstanceOf(IamError);
    expect(caught).toMatchObject({ code: IamErrorCode.Throttled, retryable: true, action: 'iam:CreateAccessKey' });
    expect((caught as IamError).message).toMatch(/1500 ms/);
    expect((caught as IamError).message).toMatch(/KEYTURN_AWS_RATE_PER_ACCOUNT/);
    expect(f.calls).toEqual([]);
  });

  it('paces the discovery calls too, naming their actions when no token comes', async () => {
    const called: string[] = [];
    const inner = {
      listUsers: async () => (called.push('listUsers'), { users: [] }),
      getAccessKeyLastUsed: async () => (called.push('getAccessKeyLastUsed'), {}),
      getLoginProfile: async () => (called.push('getLoginProfile'), null),
    } as unknown as IamClient;
    const granted = fakes(true);
    const client = jobIam(pacedIamClient(inner, granted.pacer, 1_000), '123456789012');
    await client.listUsers(CREDS, { pathPrefix: '/' });
    await client.getAccessKeyLastUsed(CREDS, 'AKIAIOSFODNN7EXAMPLE');
    await client.getLoginProfile(CREDS, 'u');
    expect(granted.waits).toEqual([1_000, 1_000, 1_000]);
    expect(called).toEqual(['listUsers', 'getAccessKeyLastUsed', 'getLoginProfile']);

    const refused = jobIam(pacedIamClient(inner, fakes(false).pacer, 1_000), '123456789012');
    const actions: string[] = [];
    const calls: (() => Promise<unknown>)[] = [
      () => refused.listUsers(CREDS),
      () => refused.getAccessKeyLastUsed(CREDS, 'AKIAIOSFODNN7EXAMPLE'),
      () => refused.getLoginProfile(CREDS, 'u'),
    ];
    for (const call of calls) {
      const e = await call().then(
        () => undefined,
        (err: unknown) => err,
      );
      expect(e).toMatchObject({ code: IamErrorCode.Throttled });
      actions.push((e as IamError).action);
    }
    expect(actions).toEqual(['iam:ListUsers', 'iam:GetAccessKeyLastUsed', 'iam:GetLoginProfile']);
    expect(called).toHaveLength(3);
  });

  it('makes the first call in its account on the turn the admission took, then asks the pacer for the next ones', async () => {
    const f = fakes(true);
    const client = pacedIamClient(f.inner, f.pacer, 1_500);
    const job = jobIam(client, '123456789012', new PrepaidTurn('123456789012', 0));
    await job.createAccessKey(CREDS, 'u');
    expect(f.waits).toEqual([]);
    await job.createAccessKey(CREDS, 'u');
    expect(f.waits).toEqual([1_500]);
    expect(f.calls).toEqual(['createAccessKey', 'createAccessKey']);
  });

  it('does not spend a turn of one account on a call in another, and outside a job nothing is prepaid', async () => {
    const f = fakes(true);
    const client = pacedIamClient(f.inner, f.pacer, 1_500);
    const turn = new PrepaidTurn('111111111111', 0);
    await jobIam(client, '222222222222', turn).createAccessKey(CREDS, 'u');
    expect(f.waits).toEqual([1_500]);
    // Still there for its own account.
    expect(turn.take('111111111111')).toBe(0);
    expect(turn.take('111111111111')).toBeUndefined();
    await jobIam(client, '111111111111').createAccessKey(CREDS, 'u');
    expect(f.waits).toEqual([1_500, 1_500]);
  });

  it('a turn granted after the job started (a heartbeat\'s admission answers alongside its claim) is there only once granted', async () => {
    const turn = new PrepaidTurn('123456789012');
    expect(turn.take('123456789012', 1_000)).toBeUndefined();
    turn.grant(300, 1_000);
    expect(turn.take('123456789012', 1_100)).toBe(200);
    expect(turn.take('123456789012', 1_100)).toBeUndefined();
  });

  it('waits for a prepaid turn that comes later, as long as it has left', async () => {
    const turn = new PrepaidTurn('123456789012', 300, 1_000);
    expect(turn.take('123456789012', 1_100)).toBe(200);
    const late = new PrepaidTurn('123456789012', 300, 1_000);
    expect(late.take('123456789012', 2_000)).toBe(0);
  });

  describe('a turn taken ahead (takeNextTurnNow), while the job writes before its next call', () => {
    /** A pacer whose turns ahead answer `ahead` (a wait in ms, undefined: past the bound, an Error: Redis failed). */
    function aheadFakes(ahead: number | undefined | Error, granted = true) {
      const f = fakes(granted);
      const reserved: [string, number][] = [];
      (f.pacer as unknown as { reserveWithin: unknown }).reserveWithin = async (account: string, maxWaitMs: number) => {
        reserved.push([account, maxWaitMs]);
        if (ahead instanceof Error) throw ahead;
        return ahead;
      };
      return { ...f, reserved, client: pacedIamClient(f.inner, f.pacer, 1_500) };
    }

    it('the next call goes on it without asking the pacer again; one turn ahead per call, however often asked', async () => {
      const f = aheadFakes(0);
      const job = jobIam(f.client, '123456789012');
      takeNextTurnNow(job);
      takeNextTurnNow(job);
      await job.createAccessKey(CREDS, 'u');
      await job.createAccessKey(CREDS, 'u');
      expect(f.reserved).toEqual([['123456789012', 1_500]]);
      expect(f.waits).toEqual([1_500]);
      expect(f.calls).toEqual(['createAccessKey', 'createAccessKey']);
    });

    it('none is taken while the turn the admission took is unused, outside a job, or on a client that is not paced', async () => {
      const f = aheadFakes(0);
      const job = jobIam(f.client, '123456789012', new PrepaidTurn('123456789012', 0));
      takeNextTurnNow(job);
      await job.createAccessKey(CREDS, 'u');
      takeNextTurnNow(f.client);
      takeNextTurnNow(jobIam(f.inner, '123456789012'));
      expect(f.reserved).toEqual([]);
      expect(f.waits).toEqual([]);
      expect(f.calls).toEqual(['createAccessKey']);
    });

    it('one that would come past the bound is not there: the call asks the pacer itself and gives up as IAM_THROTTLED', async () => {
      const f = aheadFakes(undefined, false);
      const job = jobIam(f.client, '123456789012');
      takeNextTurnNow(job);
      const e = await job.createAccessKey(CREDS, 'u').then(
        () => undefined,
        (err: unknown) => err,
      );
      expect(e).toMatchObject({ code: IamErrorCode.Throttled, action: 'iam:CreateAccessKey' });
      expect(f.reserved).toHaveLength(1);
      expect(f.waits).toEqual([1_500]);
      expect(f.calls).toEqual([]);
    });

    it('when Redis failed taking it, the call asks the pacer itself (and meets whatever that answers)', async () => {
      const f = aheadFakes(new Error('Connection is closed.'));
      const job = jobIam(f.client, '123456789012');
      takeNextTurnNow(job);
      await job.createAccessKey(CREDS, 'u');
      expect(f.reserved).toHaveLength(1);
      expect(f.waits).toEqual([1_500]);
      expect(f.calls).toEqual(['createAccessKey']);
    });

    it("is its job's only: another job's call asks the pacer, and the turn waits for its own", async () => {
      const f = aheadFakes(0);
      const job = jobIam(f.client, '111111111111');
      takeNextTurnNow(job);
      await jobIam(f.client, '222222222222').createAccessKey(CREDS, 'u');
      await job.createAccessKey(CREDS, 'u');
      expect(f.reserved).toEqual([['111111111111', 1_500]]);
      expect(f.waits).toEqual([1_500]);
      expect(f.calls).toHaveLength(2);
    });

    it('is used once: the call after the one it was for asks the pacer', async () => {
      const f = aheadFakes(0);
      const job = jobIam(f.client, '123456789012');
      takeNextTurnNow(job);
      await job.createAccessKey(CREDS, 'u');
      await job.createAccessKey(CREDS, 'u');
      expect(f.reserved).toHaveLength(1);
      expect(f.waits).toEqual([1_500]);
      expect(f.calls).toHaveLength(2);
    });
  });
});
