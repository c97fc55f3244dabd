import { CreateAccessKeyCommand, CreateUserCommand, GetUserCommand, type IAMClient, ListAccessKeysCommand } from '@aws-sdk/client-iam';
import { GetCallerIdentityCommand } from '@aws-sdk/client-sts';
import { type IamEmulator, startIamEmulator } from './index.js';
import { iamClient, rejection, stsClient } from './sdk-clients.helper.js';

describe('IAM emulator: faults and realism controls', () => {
  let emulator: IamEmulator;
  let root: IAMClient;

  beforeEach(async () => {
    emulator = await startIamEmulator({ port: 0 });
    root = iamClient(emulator);
    await root.send(new CreateUserCommand({ UserName: 'target' }));
  });

  afterEach(async () => {
    root.destroy();
    await emulator.close();
  });

  it('throttles with a per-account token bucket: Throttling "Rate exceeded" (400), then recovers', async () => {
    // No refill: the burst is spent whatever the machine's speed.
    emulator.setThrottle({ ratePerSecond: 0, burst: 2 });
    await root.send(new GetUserCommand({ UserName: 'target' }));
    await stsClient(emulator).send(new GetCallerIdentityCommand({}));
    const err = await rejection(() => root.send(new GetUserCommand({ UserName: 'target' })));
    expect(err.name).toBe('Throttling');
    expect(err.message).toBe('Rate exceeded');
    expect(err.$metadata?.httpStatusCode).toBe(400);

    // A refilling bucket: spent, then calls answer Throttling only until a token comes back.
    emulator.setThrottle({ ratePerSecond: 20, burst: 1 });
    await root.send(new GetUserCommand({ UserName: 'target' }));
    const refusals: string[] = [];
    for (;;) {
      const outcome = await root.send(new GetUserCommand({ UserName: 'target' })).then(() => 'ok', (e: Error) => e.name);
      if (outcome === 'ok') break;
      refusals.push(outcome);
    }
    expect(new Set(refusals)).toEqual(new Set(refusals.length ? ['Throttling'] : []));

    emulator.setThrottle(null);
    for (let i = 0; i < 5; i++) await root.send(new GetUserCommand({ UserName: 'target' }));
  });

  it('throttles every n-th call deterministically, IAM and STS alike', async () => {
    emulator.setThrottleEvery(2);
    const sts = stsClient(emulator);
    const outcomes: string[] = [];
    for (let i = 0; i < 4; i++) {
      outcomes.push(await sts.send(new GetCallerIdentityCommand({})).then(() => 'ok', (e: Error) => e.name));
    }
    expect(outcomes).toEqual(['ok', 'Throttling', 'ok', 'Throttling']);
  });

  it('lets the SDK retry through throttling when retries are allowed', async () => {
    emulator.setThrottleEvery(2);
    await root.send(new GetUserCommand({ UserName: 'target' }));
    const retrying = iamClient(emulator, emulator.rootCredentials, 3);
    const out = await retrying.send(new GetUserCommand({ UserName: 'target' }));
    expect(out.User!.UserName).toBe('target');
    expect(out.$metadata.attempts).toBe(2);
  });

  it('fails the next N calls of one action with the chosen error, without running it', async () => {
    emulator.failNext('CreateAccessKey', 2, { code: 'ServiceFailure', message: 'Injected failure', status: 500 });
    for (let i = 0; i < 2; i++) {
      const err = await rejection(() => root.send(new CreateAccessKeyCommand({ UserName: 'target' })));
      expect(err.name).toBe('ServiceFailureException');
      expect(err.message).toBe('Injected failure');
      expect(err.$metadata?.httpStatusCode).toBe(500);
    }
    expect(emulator.listKeys('target')).toHaveLength(0);
    await root.send(new GetUserCommand({ UserName: 'target' })); // other actions are untouched
    await root.send(new CreateAccessKeyCommand({ UserName: 'target' }));
    expect(emulator.listKeys('target')).toHaveLength(1);
  });

  it('applies faults to STS GetCallerIdentity by name', async () => {
    emulator.failNext('GetCallerIdentity', 1, { code: 'InvalidClientTokenId', message: 'The security token included in the request is invalid.', status: 403 });
    const err = await rejection(() => stsClient(emulator).send(new GetCallerIdentityCommand({})));
    expect(err.name).toBe('InvalidClientTokenId');
    await stsClient(emulator).send(new GetCallerIdentityCommand({}));
  });

  it('loses the answer: the action is applied, then the connection drops before any response', async () => {
    emulator.loseAnswerNext('CreateAccessKey');
    const err = await rejection(() => root.send(new CreateAccessKeyCommand({ UserName: 'target' })));
    expect(err.name).not.toBe('ServiceFailureException');
    expect(err.$metadata?.httpStatusCode).toBeUndefined();
    expect(emulator.listKeys('target')).toHaveLength(1);
    expect(emulator.callLog().at(-1)).toMatchObject({ action: 'CreateAccessKey', answerLost: true });

    const listed = await root.send(new ListAccessKeysCommand({ UserName: 'target' }));
    expect(listed.AccessKeyMetadata).toHaveLength(1);
  });

  it('with SDK retries, a lost answer leads to the action running twice (as on AWS)', async () => {
    emulator.loseAnswerNext('CreateAccessKey', 1);
    const retrying = iamClient(emulator, emulator.rootCredentials, 3);
    const out = await retrying.send(new CreateAccessKeyCommand({ UserName: 'target' }));
    expect(out.$metadata.attempts).toBe(2);
    expect(emulator.listKeys('target')).toHaveLength(2);
  });

  it('misdirects the next CreateAccessKey for one user: the key is made for another user, though the answer names the requested one', async () => {
    await root.send(new CreateUserCommand({ UserName: 'other' }));
    emulator.misdirectNextCreateAccessKey('target', 'other');
    // Other users are not affected, and the fault waits for its user.
    await root.send(new CreateAccessKeyCommand({ UserName: 'other' }));
    expect(emulator.listKeys('other')).toHaveLength(1);

    const { AccessKey } = await root.send(new CreateAccessKeyCommand({ UserName: 'target' }));
    expect(AccessKey!.UserName).toBe('target');
    expect(emulator.listKeys('target')).toEqual([]);
    expect(emulator.listKeys('other').map((k) => k.accessKeyId)).toContain(AccessKey!.AccessKeyId);
    const id = await stsClient(emulator, { accessKeyId: AccessKey!.AccessKeyId!, secretAccessKey: AccessKey!.SecretAccessKey! }).send(
      new GetCallerIdentityCommand({}),
    );
    expect(id.Arn).toBe('arn:aws:iam::123456789012:user/other');

    // Once only.
    const { AccessKey: next } = await root.send(new CreateAccessKeyCommand({ UserName: 'target' }));
    expect(emulator.listKeys('target').map((k) => k.accessKeyId)).toEqual([next!.AccessKeyId]);
  });

  it('refuses to misdirect to a user that does not exist', () => {
    expect(() => emulator.misdirectNextCreateAccessKey('target', 'nobody')).toThrow('no user named nobody');
  });

  it('adds latency to every answer', async () => {
    emulator.setLatencyMs(150);
    const started = Date.now();
    await root.send(new GetUserCommand({ UserName: 'target' }));
    expect(Date.now() - started).toBeGreaterThanOrEqual(140);
  });

  it('resetFaults clears every fault', async () => {
    await root.send(new CreateUserCommand({ UserName: 'other' }));
    emulator.setThrottleEvery(1);
    emulator.setLatencyMs(600_000); // ten minutes: if it survived the reset, the calls below could not answer in time
    emulator.failNext('GetUser', 5, { code: 'ServiceFailure', status: 500 });
    emulator.loseAnswerNext('GetUser', 5);
    emulator.setPropagationDelayMs(600_000);
    emulator.misdirectNextCreateAccessKey('target', 'other');
    emulator.resetFaults();
    const calls = (async () => {
      await root.send(new GetUserCommand({ UserName: 'target' }));
      const { AccessKey } = await root.send(new CreateAccessKeyCommand({ UserName: 'target' }));
      return stsClient(emulator, { accessKeyId: AccessKey!.AccessKeyId!, secretAccessKey: AccessKey!.SecretAccessKey! }).send(
        new GetCallerIdentityCommand({}),
      );
    })();
    const outcome = await Promise.race([
      calls.then((id) => id.Arn),
      new Promise((resolve) => setTimeout(resolve, 30_000).unref()).then(() => 'no answer in 30 s'),
    ]);
    expect(outcome).toBe('arn:aws:iam::123456789012:user/target');
  }, 60_000);
});

describe('IAM emulator: control API over HTTP', () => {
  let emulator: IamEmulator;

  beforeEach(async () => {
    emulator = await startIamEmulator({ port: 0 });
  });

  afterEach(async () => {
    await emulator.close();
  });

  const post = (emu: IamEmulator, path: string, body?: unknown) =>
    fetch(`${emu.url}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });

  it('sets faults from JSON and resets them', async () => {
    expect((await post(emulator, '/_emulator/faults', { throttleEvery: 2 })).status).toBe(200);
    const sts = stsClient(emulator);
    await sts.send(new GetCallerIdentityCommand({}));
    expect((await rejection(() => sts.send(new GetCallerIdentityCommand({})))).name).toBe('Throttling');

    expect((await post(emulator, '/_emulator/reset-faults')).status).toBe(200);
    await sts.send(new GetCallerIdentityCommand({}));
    await sts.send(new GetCallerIdentityCommand({}));

    await post(emulator, '/_emulator/faults', { failNext: { action: 'CreateUser', count: 1, code: 'ServiceFailure', status: 500 } });
    const err = await rejection(() => iamClient(emulator).send(new CreateUserCommand({ UserName: 'u1' })));
    expect(err.$metadata?.httpStatusCode).toBe(500);

    await post(emulator, '/_emulator/faults', { loseAnswerNext: { action: 'CreateUser', count: 1 } });
    await rejection(() => iamClient(emulator).send(new CreateUserCommand({ UserName: 'u2' })));
    expect(emulator.getUser('u2')).toBeDefined();

    emulator.seedUser('u3');
    expect((await post(emulator, '/_emulator/faults', { misdirectCreateAccessKey: { forUser: 'u2', toUser: 'u3' } })).status).toBe(200);
    const { AccessKey: misdirected } = await iamClient(emulator).send(new CreateAccessKeyCommand({ UserName: 'u2' }));
    expect(emulator.listKeys('u3').map((k) => k.accessKeyId)).toEqual([misdirected!.AccessKeyId]);
    expect(emulator.listKeys('u2')).toEqual([]);

    await post(emulator, '/_emulator/faults', { propagationDelayMs: 5000, latencyMs: 0, throttle: { ratePerSecond: 100, burst: 100 } });
    const { AccessKey } = await iamClient(emulator).send(new CreateAccessKeyCommand({ UserName: 'u2' }));
    const early = await rejection(() =>
      stsClient(emulator, { accessKeyId: AccessKey!.AccessKeyId!, secretAccessKey: AccessKey!.SecretAccessKey! }).send(new GetCallerIdentityCommand({})),
    );
    expect(early.name).toBe('InvalidClientTokenId');
  });

  it('answers 400 to invalid fault requests and 404 to unknown routes', async () => {
    expect((await post(emulator, '/_emulator/faults', { throttleEvery: 0 })).status).toBe(400);
    expect((await post(emulator, '/_emulator/faults', { failNext: { action: 'GetUser' } })).status).toBe(400);
    expect((await post(emulator, '/_emulator/faults', { misdirectCreateAccessKey: { forUser: 'a' } })).status).toBe(400);
    const bad = await fetch(`${emulator.url}/_emulator/faults`, { method: 'POST', body: '{nope' });
    expect(bad.status).toBe(400);
    expect((await fetch(`${emulator.url}/_emulator/nothing`)).status).toBe(404);
  });

  it('lists a user keys (ids and status, never secrets) and its password, and the call log', async () => {
    const seeded = emulator.seedUser('svc', { withAccessKey: true, password: 'Seed-Passw0rd!' });
    const keys = await (await fetch(`${emulator.url}/_emulator/users/svc/keys`)).json();
    expect(keys).toEqual([{ accessKeyId: seeded.accessKeyId, status: 'Active', createDate: expect.any(String) }]);
    expect(JSON.stringify(keys)).not.toContain(seeded.secretAccessKey);
    expect((await fetch(`${emulator.url}/_emulator/users/nobody/keys`)).status).toBe(404);
    expect(await (await fetch(`${emulator.url}/_emulator/users/svc/password`)).json()).toEqual({ password: 'Seed-Passw0rd!' });

    await stsClient(emulator, { accessKeyId: seeded.accessKeyId!, secretAccessKey: seeded.secretAccessKey! }).send(new GetCallerIdentityCommand({}));
    const calls = (await (await fetch(`${emulator.url}/_emulator/calls`)).json()) as { action: string; callerArn: string }[];
    expect(calls.at(-1)).toMatchObject({ action: 'GetCallerIdentity', callerArn: 'arn:aws:iam::123456789012:user/svc' });
    expect(await (await fetch(`${emulator.url}/_emulator/health`)).json()).toEqual({ ok: true, accountId: '123456789012' });
  });

  it('call counts: every call per action since the log was cleared, past the log\'s cap of 1000 entries', async () => {
    const seeded = emulator.seedUser('counted', { withAccessKey: true });
    emulator.clearCallLog();
    const client = stsClient(emulator, { accessKeyId: seeded.accessKeyId!, secretAccessKey: seeded.secretAccessKey! });
    for (let sent = 0; sent < 1005; sent += 67) await Promise.all(Array.from({ length: 67 }, () => client.send(new GetCallerIdentityCommand({}))));
    expect(emulator.callLog()).toHaveLength(1000);
    expect(await (await fetch(`${emulator.url}/_emulator/call-counts`)).json()).toEqual({ GetCallerIdentity: 1005 });
    emulator.clearCallLog();
    expect(emulator.callCounts()).toEqual({});
  }, 120_000);

  it('reset-state forgets users and keys but keeps the root credentials working', async () => {
    emulator.seedUser('temp', { withAccessKey: true });
    expect((await post(emulator, '/_emulator/reset-state')).status).toBe(200);
    expect(emulator.getUser('temp')).toBeUndefined();
    await stsClient(emulator).send(new GetCallerIdentityCommand({}));
  });
});
