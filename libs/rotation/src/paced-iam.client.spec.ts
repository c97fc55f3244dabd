import { IamErrorCode } from '@keyturn/contracts';
import { IamError, type IamClient } from '@keyturn/iam';
import type { AccountPacer } from '@keyturn/queue';
import { PrepaidTurn, inAccount, pacedIamClient, withPrepaidTurn } from './paced-iam.client.js';

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
    await inAccount('123456789012', () => client.createAccessKey(CREDS, 'u'));
    expect(f.waits).toEqual([1_500]);
    expect(f.calls).toEqual(['createAccessKey']);
  });

  it('gives up with a retryable IAM_THROTTLED, without calling AWS, when no token comes within the bound', async () => {
    const f = fakes(false);
    const client = pacedIamClient(f.inner, f.pacer, 1_500);
    let caught: unknown;
    await inAccount('123456789012', () => client.createAccessKey(CREDS, 'u')).catch((e: unknown) => (caught = e));
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
    const client = pacedIamClient(inner, granted.pacer, 1_000);
    await inAccount('123456789012', async () => {
      await client.listUsers(CREDS, { pathPrefix: '/' });
      await client.getAccessKeyLastUsed(CREDS, 'AKIAIOSFODNN7EXAMPLE');
      await client.getLoginProfile(CREDS, 'u');
    });
    expect(granted.waits).toEqual([1_000, 1_000, 1_000]);
    expect(called).toEqual(['listUsers', 'getAccessKeyLastUsed', 'getLoginProfile']);

    const refused = pacedIamClient(inner, fakes(false).pacer, 1_000);
    const actions: string[] = [];
    const calls: (() => Promise<unknown>)[] = [
      () => refused.listUsers(CREDS),
      () => refused.getAccessKeyLastUsed(CREDS, 'AKIAIOSFODNN7EXAMPLE'),
      () => refused.getLoginProfile(CREDS, 'u'),
    ];
    for (const call of calls) {
      const e = await inAccount('123456789012', call).then(
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
    await withPrepaidTurn(new PrepaidTurn('123456789012', 0), () =>
      inAccount('123456789012', async () => {
        await client.createAccessKey(CREDS, 'u');
        expect(f.waits).toEqual([]);
        await client.createAccessKey(CREDS, 'u');
      }),
    );
    expect(f.waits).toEqual([1_500]);
    expect(f.calls).toEqual(['createAccessKey', 'createAccessKey']);
  });

  it('does not spend a turn of one account on a call in another, and outside a job nothing is prepaid', async () => {
    const f = fakes(true);
    const client = pacedIamClient(f.inner, f.pacer, 1_500);
    const turn = new PrepaidTurn('111111111111', 0);
    await withPrepaidTurn(turn, () => inAccount('222222222222', () => client.createAccessKey(CREDS, 'u')));
    expect(f.waits).toEqual([1_500]);
    // Still there for its own account.
    expect(turn.take('111111111111')).toBe(0);
    expect(turn.take('111111111111')).toBeUndefined();
    await inAccount('111111111111', () => client.createAccessKey(CREDS, 'u'));
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
});
