import { IamErrorCode } from '@keyturn/contracts';
import { IamError, type IamClient } from '@keyturn/iam';
import type { AccountPacer } from '@keyturn/queue';
import { inAccount, pacedIamClient } from './paced-iam.client.js';

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
});
