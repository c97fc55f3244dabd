import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { AccountPacer } from './account-pacer.js';

// Real Redis (the machine's), with a key prefix of this run's own.
const url = process.env.E2E_REDIS_URL ?? 'redis://127.0.0.1:6379';

describe('AccountPacer (a token bucket per AWS account in Redis)', () => {
  const prefix = `kt-pacer-${randomBytes(4).toString('hex')}`;
  let a: Redis;
  let b: Redis;

  beforeAll(() => {
    a = new Redis(url);
    b = new Redis(url);
  });
  afterAll(async () => {
    const keys = await a.keys(`${prefix}:*`);
    if (keys.length) await a.del(...keys);
    await Promise.all([a.quit(), b.quit()]);
  });

  it('holds two processes together to the account’s rate', async () => {
    // Two pacers on two connections stand for two worker processes.
    const p1 = new AccountPacer(a, prefix, 20, 5);
    const p2 = new AccountPacer(b, prefix, 20, 5);
    const started = Date.now();
    await Promise.all(Array.from({ length: 30 }, (_, i) => (i % 2 ? p1 : p2).take('111111111111')));
    const elapsed = Date.now() - started;
    // 5 tokens at once, then 25 more at 20 per second: at least 1.25 s, whatever the machine's speed.
    expect(elapsed).toBeGreaterThanOrEqual(1_150);
  });

  it('keeps accounts apart, and says how long to wait once a bucket is empty', async () => {
    const p = new AccountPacer(a, prefix, 1, 3);
    const accounts = ['222222222222', '333333333333', '444444444444'];
    // Each account has its own burst of three.
    for (const acct of accounts) {
      expect(await Promise.all([p.tryTake(acct), p.tryTake(acct), p.tryTake(acct)])).toEqual([0, 0, 0]);
    }
    const wait = await p.tryTake(accounts[0]);
    expect(wait).toBeGreaterThan(0);
    expect(wait).toBeLessThanOrEqual(1_000);
  });

  it('take gives up when the token would come later than maxWaitMs, and leaves the bucket as it was', async () => {
    const p = new AccountPacer(a, prefix, 0.5, 1); // one token, then one every 2 s
    const acct = '555555555555';
    expect(await p.take(acct, 100)).toBe(true);
    expect(await p.take(acct, 100)).toBe(false);
    // Giving up took no token: the next one is still about 2 s away, not 4.
    const wait = await p.tryTake(acct);
    expect(wait).toBeGreaterThan(0);
    expect(wait).toBeLessThanOrEqual(2_000);
  });

  it('reserveWithin takes a turn without sleeping: the wait until it comes, or undefined past the bound (no turn taken)', async () => {
    const p = new AccountPacer(a, prefix, 0.5, 1); // one turn, then one every 2 s
    const acct = '787878787878';
    expect(await p.reserveWithin(acct, 100)).toBe(0);
    expect(await p.reserveWithin(acct, 100)).toBeUndefined();
    const later = await p.reserveWithin(acct, 5_000);
    expect(later).toBeGreaterThan(100);
    expect(later).toBeLessThanOrEqual(2_000);
    // That one was taken (the one refused was not): the next is about 4 s away.
    const next = await p.tryTake(acct);
    expect(next).toBeGreaterThan(2_000);
    expect(next).toBeLessThanOrEqual(4_000);
  });

  it('take without a bound waits as long as it takes (and says so)', async () => {
    const p = new AccountPacer(a, prefix, 20, 1);
    const acct = '666666666666';
    expect(await p.take(acct)).toBe(true);
    expect(await p.take(acct)).toBe(true);
  });

  it('reserves: each waiting call holds its own turn, so backlogMs says how long a new call would wait', async () => {
    const p = new AccountPacer(a, prefix, 10, 1); // one at once, then one every 100 ms
    const acct = '777777777777';
    expect(await p.backlogMs(acct)).toBe(0);
    const five = Array.from({ length: 5 }, () => p.take(acct));
    // Asked after the five: they hold the next 400 ms (the first went at once).
    const backlog = await p.backlogMs(acct);
    expect(backlog).toBeGreaterThan(300);
    expect(backlog).toBeLessThanOrEqual(500);
    expect(await Promise.all(five)).toEqual([true, true, true, true, true]);
    // Looking took no turn: once the five went out, the account is free again.
    await new Promise((r) => setTimeout(r, 120));
    expect(await p.backlogMs(acct)).toBe(0);
  });

  it('sends its script as EVALSHA once the server has it', async () => {
    const p = new AccountPacer(a, prefix, 20, 5);
    const acct = '999999999999';
    await p.tryTake(acct);
    // The commands themselves (a client's first call of a script is an EVAL; the tryTake above was it).
    const sent: { name: string }[] = [];
    const send = a.sendCommand.bind(a);
    a.sendCommand = ((cmd: Parameters<typeof send>[0], stream?: Parameters<typeof send>[1]) => {
      sent.push(cmd);
      return send(cmd, stream);
    }) as typeof a.sendCommand;
    try {
      await p.tryTake(acct);
      await p.backlogMs(acct);
      expect(await p.take(acct)).toBe(true);
    } finally {
      delete (a as unknown as Record<string, unknown>)['sendCommand'];
    }
    expect(sent.map((c) => c.name)).toEqual(['evalsha', 'evalsha', 'evalsha']);
  });

  it('serves one account’s waiting calls in the order they asked', async () => {
    const p = new AccountPacer(a, prefix, 20, 1);
    const acct = '888888888888';
    const order: number[] = [];
    await Promise.all(Array.from({ length: 8 }, (_, i) => p.take(acct).then(() => order.push(i))));
    expect(order).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
  });
});
