import type { AccountPacer } from '@keyturn/queue';
import { PrepaidTurn, pacedIamClient } from '../paced-iam.client.js';
import { KeyRotationUseCase } from './key-rotation.usecase.js';
import { ROTATION_OPTIONS, WorkerWorld } from '../../../../test/unit-fakes/worker.fixture.js';

// How a key rotation asks the account's pacer for its turns: the first call on the turn the admission took,
// each later one on a turn taken while the write before it runs (takeNextTurnNow), never a turn left unused.
const ACCOUNT = '111111111111';

function world(opts: { verifyInitialDelayMs: number }) {
  const w = new WorkerWorld();
  w.iam.addUser('alice', { keys: 1 });
  const secret = w.keySecret('alice', w.iam.user('alice').keys[0]);
  const rot = w.store.addRotation({ secretId: secret.id });
  const asked: string[] = [];
  const pacer = {
    reserveWithin: async (account: string, maxWaitMs: number) => (asked.push(`ahead ${account} ${maxWaitMs}`), 0),
    take: async (account: string, maxWaitMs: number) => (asked.push(`take ${account} ${maxWaitMs}`), true),
  } as unknown as AccountPacer;
  const iam = pacedIamClient(w.iam, pacer, 1_500);
  const useCase = new KeyRotationUseCase(w.journal, iam, { ...ROTATION_OPTIONS, ...opts }, w.clock, w.faults);
  // As the runner hands it over: the turn the admission took; the use case paces its calls in the secret's account.
  const run = () => useCase.run(rot.id, undefined, new PrepaidTurn(ACCOUNT, 0));
  return { w, secret, asked, run };
}

describe('KeyRotationUseCase and the account pacer', () => {
  it('with no delay before verifying, every call after the first has its turn taken during the write before it', async () => {
    const { w, asked, run } = world({ verifyInitialDelayMs: 0 });
    await run();
    // getCallerIdentity (admission's turn), listAccessKeys, createAccessKey, getCallerIdentity (verify), updateAccessKey (retire).
    expect(w.iam.calls.map((c) => c.split(' ')[0])).toEqual(['getCallerIdentity', 'listAccessKeys', 'createAccessKey', 'getCallerIdentity', 'updateAccessKey']);
    expect(asked).toEqual(Array(4).fill(`ahead ${ACCOUNT} 1500`));
  });

  it('with a delay before verifying, the verify call asks the pacer itself, after the delay', async () => {
    const { w, asked, run } = world({ verifyInitialDelayMs: 1_000 });
    await run();
    expect(w.iam.calls).toHaveLength(5);
    expect(asked).toEqual([`ahead ${ACCOUNT} 1500`, `ahead ${ACCOUNT} 1500`, `take ${ACCOUNT} 1500`, `ahead ${ACCOUNT} 1500`]);
  });

  it('with a grace period no call follows the promotion, and no turn is taken for one', async () => {
    const { w, asked, run } = world({ verifyInitialDelayMs: 0 });
    w.global = { ...w.global, previousKeyGraceSeconds: 3_600 };
    await run();
    expect(w.iam.calls.map((c) => c.split(' ')[0])).toEqual(['getCallerIdentity', 'listAccessKeys', 'createAccessKey', 'getCallerIdentity']);
    expect(asked).toEqual(Array(3).fill(`ahead ${ACCOUNT} 1500`));
  });

  it('keeping the previous key as it is, no call follows the promotion either', async () => {
    const { w, asked, run } = world({ verifyInitialDelayMs: 0 });
    w.global = { ...w.global, shouldInactivatePreviousKey: false, shouldDeletePreviousKey: false };
    await run();
    expect(w.iam.calls).toHaveLength(4);
    expect(asked).toEqual(Array(3).fill(`ahead ${ACCOUNT} 1500`));
  });
});
