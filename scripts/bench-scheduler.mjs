#!/usr/bin/env node
// `npm run bench:scheduler [-- --rows 100000,1000000 --rounds 3]`
//
// The scheduler's enqueue of due heartbeats, at N due key secrets, against raw baselines run in the same
// process, rounds interleaved (the order of the sides alternates from round to round):
//   keyturn  DueWorkService.enqueueDueHeartbeatBatches() until nothing is due, as the scheduler's tick calls it:
//            per batch the claim (UPDATE … FOR UPDATE SKIP LOCKED), the heartbeat rows (INSERT … ON CONFLICT),
//            the commit, the fair share's per-account counts in Redis, then BullMQ addBulk; the next batch is
//            claimed while the previous one goes to Redis.
//   raw      BullMQ addBulk of the very same jobs (same payloads, job ids and options, the priority the fair
//            share gives each), in batches of the same size. It claims nothing in Postgres and keeps no
//            per-account count: it is the floor for "get these jobs into Redis".
//   raw-sql  the same claim and insert SQL through a bare pg client (one transaction per batch), then the
//            raw addBulk, overlapped the same way (the next claim runs while the previous addBulk is in flight):
//            what Keyturn's path would cost with no framework around the same statements.
// Every round starts from the same state: N due secrets, no heartbeat rows, an empty queue prefix,
// the tables vacuumed and analysed. Redis bytes per queued job are the sum of MEMORY USAGE over the
// prefix's keys once a side has queued everything (other tenants of the Redis do not disturb it).
// Prints figures; asserts nothing but that every side queued every job. Needs the local Postgres and Redis.
import { randomBytes } from 'node:crypto';
import { cpus, loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import 'reflect-metadata';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import pg from 'pg';

const { values } = parseArgs({
  options: {
    rows: { type: 'string', default: '100000,1000000' },
    rounds: { type: 'string', default: '3' },
    accounts: { type: 'string', default: '4' },
    sides: { type: 'string', default: 'keyturn,raw,raw-sql' },
  },
});
const SIZES = values.rows.split(',').map(Number);
const ROUNDS = Number(values.rounds);
const ACCOUNTS = Number(values.accounts);
const SIDES = values.sides.split(',');
const ADMIN = process.env.BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const REDIS_URL = process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379';

const { loadConfig, ConfigModule } = await import('../dist/libs/config/src/index.js');
const { StoreModule, prepareDatabase, uuidv7 } = await import('../dist/libs/store/src/index.js');
const { RedisModule } = await import('../dist/libs/queue/src/index.js');
const { SchedulingModule, DueWorkService, HEARTBEAT_JOB_OPTIONS, heartbeatJob } = await import('../dist/libs/scheduling/src/index.js');
const { CLAIM_DUE_HEARTBEATS_SQL, INSERT_SCHEDULED_HEARTBEATS_SQL } = await import('../dist/libs/store/src/index.js');
const { generateMasterKey } = await import('../dist/libs/crypto/src/index.js');
const { NestFactory } = await import('@nestjs/core');
const { Module } = await import('@nestjs/common');

const admin = new pg.Client({ connectionString: ADMIN });
await admin.connect();
const scanner = new Redis(REDIS_URL);

/**
 * Postgres's WAL so far (the whole server's: read it on a quiet machine), or null before Postgres 14. Full-page
 * images are what a page's first change after a checkpoint costs: see "What bounds it" in docs/performance.md.
 */
async function wal() {
  try {
    const { rows: [r] } = await admin.query('SELECT wal_bytes::bigint AS bytes, wal_fpi AS fpi FROM pg_stat_wal');
    return { bytes: Number(r.bytes), fpi: Number(r.fpi) };
  } catch {
    return null;
  }
}

const ACCOUNT_IDS = Array.from({ length: ACCOUNTS }, (_, i) => String(123456789012 + i * 111111111));

async function prefixKeys(prefix, each) {
  for (let cursor = '0'; ;) {
    const [next, keys] = await scanner.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 5000);
    if (keys.length) await each(keys);
    cursor = next;
    if (cursor === '0') break;
  }
}
/** Sum of MEMORY USAGE over the prefix's keys, split into job hashes and the rest (lists, sorted sets, counters, streams). */
async function redisBytes(prefix) {
  const out = { jobs: 0, other: 0, keys: 0, byKind: {} };
  await prefixKeys(prefix, async (keys) => {
    const p = scanner.pipeline();
    for (const k of keys) p.call('MEMORY', 'USAGE', k, 'SAMPLES', '0');
    const res = await p.exec();
    keys.forEach((k, i) => {
      const b = Number(res[i][1] ?? 0);
      const rest = k.slice(prefix.length + 1);
      const kind = /^heartbeat:[^:]+$/.test(rest) && !/^heartbeat:(wait|paused|prioritized|pc|meta|events|id|active|delayed|completed|failed|marker|stalled-check|limiter|de|repeat|metrics)$/.test(rest) ? 'job' : rest.replace(/acct:\d+$/, 'acct:*');
      if (kind === 'job') out.jobs += b;
      else {
        out.other += b;
        out.byKind[kind] = (out.byKind[kind] ?? 0) + b;
      }
      out.keys++;
    });
  });
  return out;
}
async function clearPrefix(prefix) {
  await prefixKeys(prefix, (keys) => scanner.unlink(...keys));
}

/** One size: its own database, queue prefix and Nest context (the scheduler's modules, without its tick loop). */
async function size(n) {
  const name = `keyturn_bench_${randomBytes(3).toString('hex')}`;
  const dbUrl = ADMIN.replace(/\/[^/]*$/, `/${name}`);
  const prefix = `kt-bench-sched-${randomBytes(4).toString('hex')}`;
  const config = loadConfig({ NODE_ENV: 'test', LOG_LEVEL: 'error', DATABASE_URL: dbUrl, REDIS_URL, KEYTURN_QUEUE_PREFIX: prefix, KEYTURN_MASTER_KEY: generateMasterKey() });
  await prepareDatabase({ ...config.database, log: () => undefined, debug: () => undefined });
  class BenchModule {}
  Module({})(BenchModule);
  const app = await NestFactory.createApplicationContext(
    { module: BenchModule, imports: [ConfigModule.forRoot(config), StoreModule.forRoot(config.database.url), RedisModule.forRoot(), SchedulingModule] },
    { logger: ['error', 'warn'] },
  );
  const due = app.get(DueWorkService);
  const db = new pg.Client({ connectionString: dbUrl });
  await db.connect();
  const rawConnection = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
  const rawQueue = new Queue('heartbeat', { connection: rawConnection, prefix });
  const batch = config.heartbeat.batch;
  const results = [];
  try {
    let t = performance.now();
    // Ids in time order as uuidv7 makes them; accounts round robin; each due (heartbeat_due), as reset() spreads them.
    await db.query(`
      INSERT INTO secrets (id, type, name, folder, username, account_id, heartbeat_status)
      SELECT (lpad(to_hex(i), 12, '0') || '-7000-8000-' || substr(md5(i::text), 1, 12))::uuid, 'aws-iam-key',
             'bench-' || i, '/bench', 'user-' || i, ($2::text[])[1 + i % array_length($2::text[], 1)], 'success'
        FROM generate_series(1, $1) AS i`, [n, ACCOUNT_IDS]);
    // Each key secret's due row (heartbeat_due) came with it; reset() makes them due.
    console.log(`\n${n.toLocaleString()} due key secrets over ${ACCOUNTS} accounts inserted in ${((performance.now() - t) / 1000).toFixed(1)} s; batch ${batch}`);
    const secrets = (await db.query(`SELECT id, account_id FROM secrets ORDER BY id`)).rows;

    const reset = async () => {
      await clearPrefix(prefix);
      await db.query(`TRUNCATE heartbeats`);
      await db.query(`UPDATE heartbeat_due SET due_at = now() - interval '1 hour' + (random() * interval '59 minutes')`);
      await db.query(`VACUUM ANALYZE secrets`);
      await db.query(`VACUUM ANALYZE heartbeat_due`);
      await db.query(`VACUUM ANALYZE heartbeats`);
    };
    const queued = async () => {
      const c = await rawQueue.getJobCounts('wait', 'prioritized', 'delayed');
      return c.wait + c.prioritized + c.delayed;
    };
    /** The jobs as Keyturn makes them (fresh heartbeat ids each round), with the priority the fair share gives each. */
    const sameJobs = () => {
      const rank = new Map();
      return secrets.map((s) => {
        const p = (rank.get(s.account_id) ?? 0) + 1;
        rank.set(s.account_id, p);
        const job = heartbeatJob(uuidv7(), s.account_id);
        return { name: job.name, data: job.payload, opts: { ...HEARTBEAT_JOB_OPTIONS, jobId: job.jobId, priority: p } };
      });
    };
    const sides = {
      keyturn: async () => {
        // Until all N are claimed: a run longer than the claim horizon (10 minutes, on a loaded machine at 1M)
        // finds its first claims due again, and the scheduler re-claims them (making no second row) by design.
        let total = 0;
        for (let k; total < n && (k = await due.enqueueDueHeartbeatBatches(Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER)) > 0; ) total += k;
        return total;
      },
      raw: async (jobs) => {
        for (let i = 0; i < jobs.length; i += batch) await rawQueue.addBulk(jobs.slice(i, i + batch));
        return jobs.length;
      },
      'raw-sql': async (jobs) => {
        const byAccount = new Map();
        for (const j of jobs) (byAccount.get(j.data.accountId) ?? byAccount.set(j.data.accountId, []).get(j.data.accountId)).push(j);
        let total = 0;
        let sending = Promise.resolve();
        for (;;) {
          await db.query('BEGIN');
          const claimed = (await db.query(CLAIM_DUE_HEARTBEATS_SQL, [batch])).rows;
          const made = claimed.length ? (await db.query(INSERT_SCHEDULED_HEARTBEATS_SQL, [claimed.map(() => uuidv7()), claimed.map((c) => c.id)])).rows : [];
          await db.query('COMMIT');
          await sending;
          if (!claimed.length) break;
          const accountOf = new Map(claimed.map((c) => [c.id, c.account_id]));
          // The prepared jobs of the same accounts, so ids, payload shape and priorities match the other sides.
          sending = rawQueue.addBulk(made.map((h) => byAccount.get(accountOf.get(h.secret_id)).pop()));
          total += claimed.length;
          if (claimed.length < batch) break;
        }
        await sending;
        return total;
      },
    };
    for (let round = 1; round <= ROUNDS; round++) {
      const order = round % 2 ? SIDES : [...SIDES].reverse();
      const r = { round };
      for (const side of order) {
        await reset();
        const jobs = side === 'keyturn' ? null : sameJobs();
        const walBefore = await wal();
        t = performance.now();
        const done = await sides[side](jobs);
        const seconds = (performance.now() - t) / 1000;
        const walAfter = await wal();
        const inQueue = await queued();
        if (done !== n || inQueue !== n) throw new Error(`${side}: ${done} claimed and ${inQueue} queued, expected ${n}`);
        const bytes = await redisBytes(prefix);
        r[side] = { seconds, perSecond: n / seconds, bytesPerJob: (bytes.jobs + bytes.other) / n, bytes };
        console.log(
          `  round ${round} ${side.padEnd(8)} ${seconds.toFixed(1).padStart(7)} s ${Math.round(n / seconds).toLocaleString().padStart(8)} jobs/s  ` +
            `Redis ${((bytes.jobs + bytes.other) / n).toFixed(0)} B/job (job hashes ${(bytes.jobs / n).toFixed(0)}, ` +
            Object.entries(bytes.byKind).filter(([, b]) => b / n >= 1).map(([k, b]) => `${k} ${(b / n).toFixed(0)}`).join(', ') + ')' +
            (walBefore && walAfter ? `  WAL ${((walAfter.bytes - walBefore.bytes) / n).toFixed(0)} B/job (${((walAfter.fpi - walBefore.fpi) / n).toFixed(2)} full-page images/job)` : ''),
        );
      }
      results.push(r);
    }
    await clearPrefix(prefix);
    return results;
  } finally {
    await rawQueue.close();
    rawConnection.disconnect();
    await db.end();
    await app.close();
    await clearPrefix(prefix);
    await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  }
}

const spread = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return { min: s[0], median: s[Math.floor(s.length / 2)], max: s[s.length - 1] };
};
try {
  console.log(`${cpus().length} CPU cores, load average ${loadavg()[0].toFixed(1)} at the start; ${ROUNDS} interleaved rounds per size`);
  const summary = [];
  for (const n of SIZES) summary.push([n, await size(n)]);
  console.log(`\nsummary (median, min–max over the rounds; ratio = keyturn jobs/s ÷ the same round's baseline jobs/s)`);
  for (const [n, rounds] of summary) {
    for (const side of SIDES) {
      const rate = spread(rounds.map((r) => r[side].perSecond));
      const bytes = spread(rounds.map((r) => r[side].bytesPerJob));
      let line = `  ${n.toLocaleString().padStart(9)} ${side.padEnd(8)} ${Math.round(rate.median).toLocaleString().padStart(7)} jobs/s (${Math.round(rate.min).toLocaleString()}–${Math.round(rate.max).toLocaleString()})  ${bytes.median.toFixed(0)} B/job`;
      if (side !== 'keyturn' && SIDES.includes('keyturn')) {
        const ratio = spread(rounds.map((r) => r.keyturn.perSecond / r[side].perSecond));
        line += `  keyturn/${side} ${ratio.median.toFixed(2)} (${ratio.min.toFixed(2)}–${ratio.max.toFixed(2)})`;
      }
      console.log(line);
    }
  }
  console.log(`load average ${loadavg()[0].toFixed(1)} at the end`);
} finally {
  scanner.disconnect();
  await admin.end();
}
