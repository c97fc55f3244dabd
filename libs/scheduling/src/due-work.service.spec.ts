import type { KeyturnConfig } from '@keyturn/config';
import type { JobProducer } from '@keyturn/queue';
import type { Transactions } from '@keyturn/store';
import { DueWorkService } from './due-work.service.js';

// The scheduler's heartbeat step: batches claimed in Postgres while the previous batch goes to Redis.

type Row = { id: string; account_id: string };

/** A deferred promise: the test decides when an addBulk "reaches Redis". */
function deferred() {
  let resolve!: () => void;
  let reject!: (e: Error) => void;
  const promise = new Promise<void>((res, rej) => ((resolve = res), (reject = rej)));
  return { promise, resolve, reject };
}

/** A microtask-and-timer flush, so that whatever can run has run. */
const settle = () => new Promise((r) => setImmediate(r));

function setUp(due: number, batch: number) {
  const events: string[] = [];
  let left = due;
  let next = 0;
  const claims: number[] = [];
  const sends: { ids: string[]; done: ReturnType<typeof deferred> }[] = [];
  const tx = {
    run: async <T>(work: (r: unknown) => Promise<T>): Promise<T> => {
      const out = await work({
        secrets: {
          claimDueHeartbeats: async (limit: number): Promise<Row[]> => {
            claims.push(limit);
            events.push(`claim ${claims.length}`);
            const n = Math.min(limit, left);
            left -= n;
            return Array.from({ length: n }, () => ({ id: `s${++next}`, account_id: `a${next % 2}` }));
          },
        },
        heartbeats: {
          insertScheduled: async (ids: string[], secretIds: string[]) => ids.map((id, i) => ({ id, secret_id: secretIds[i]! })),
        },
      });
      events.push(`commit ${claims.length}`);
      return out;
    },
  } as unknown as Transactions;
  const jobs = {
    addBulk: (_name: string, js: { jobId: string }[]) => {
      const done = deferred();
      sends.push({ ids: js.map((j) => j.jobId), done });
      events.push(`send ${sends.length}`);
      return done.promise.then(() => void events.push(`sent ${sends.length}`));
    },
  } as unknown as JobProducer;
  const config = { heartbeat: { batch } } as KeyturnConfig;
  const svc = new DueWorkService(tx, {} as never, {} as never, jobs, {} as never, {} as never, config);
  return { svc, events, claims, sends };
}

describe('DueWorkService.enqueueDueHeartbeatBatches', () => {
  it('claims the next batch while the previous one is on its way to Redis, one send at a time, and returns once the last is sent', async () => {
    const { svc, events, claims, sends } = setUp(2500, 1000);
    let result: number | undefined;
    const run = svc.enqueueDueHeartbeatBatches(Number.MAX_SAFE_INTEGER, 50).then((n) => (result = n));
    await settle();
    // Batch 1 is being sent and batch 2 is already claimed and committed; batch 2 waits for batch 1's send.
    expect(events).toEqual(['claim 1', 'commit 1', 'send 1', 'claim 2', 'commit 2']);
    sends[0]!.done.resolve();
    await settle();
    expect(events.slice(5)).toEqual(['sent 1', 'send 2', 'claim 3', 'commit 3']);
    sends[1]!.done.resolve();
    await settle();
    // Batch 3 came out short (500 < 1000): no fourth claim, and no result before its send is done.
    expect(events.slice(9)).toEqual(['sent 2', 'send 3']);
    expect(result).toBeUndefined();
    sends[2]!.done.resolve();
    await run;
    expect(result).toBe(2500);
    expect(claims).toEqual([1000, 1000, 1000]);
    expect(sends.map((s) => s.ids.length)).toEqual([1000, 1000, 500]);
  });

  it('stops at the room and at maxBatches', async () => {
    const a = setUp(10_000, 1000);
    const ra = a.svc.enqueueDueHeartbeatBatches(2500, 50);
    for (let i = 0; i < 3; i++) {
      await settle();
      a.sends[i]?.done.resolve();
    }
    expect(await ra).toBe(2500);
    expect(a.claims).toEqual([1000, 1000, 500]);

    const b = setUp(10_000, 1000);
    const rb = b.svc.enqueueDueHeartbeatBatches(Number.MAX_SAFE_INTEGER, 2);
    for (let i = 0; i < 2; i++) {
      await settle();
      b.sends[i]?.done.resolve();
    }
    expect(await rb).toBe(2000);
    expect(b.claims).toEqual([1000, 1000]);
  });

  it('a batch that Redis refuses is left to the reconciler: the next batches still go', async () => {
    const { svc, sends } = setUp(2000, 1000);
    const run = svc.enqueueDueHeartbeatBatches(Number.MAX_SAFE_INTEGER, 50);
    await settle();
    sends[0]!.done.reject(new Error('Redis is not connected (reconnecting)'));
    await settle();
    sends[1]!.done.resolve();
    await settle();
    sends[2]?.done.resolve();
    expect(await run).toBe(2000);
    expect(sends.map((s) => s.ids.length)).toEqual([1000, 1000]);
  });

  it('stops between batches once stopping() says so, after the batch in flight is sent', async () => {
    const { svc, claims, sends } = setUp(10_000, 1000);
    let stop = false;
    const run = svc.enqueueDueHeartbeatBatches(Number.MAX_SAFE_INTEGER, 50, () => stop);
    await settle();
    stop = true;
    sends[0]!.done.resolve();
    await settle();
    sends[1]?.done.resolve();
    expect(await run).toBe(2000);
    expect(claims).toEqual([1000, 1000]);
  });
});
