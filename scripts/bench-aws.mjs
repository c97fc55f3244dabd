// The shared body of `npm run bench:heartbeat` and `npm run bench:rotation` (docs/performance.md,
// "Heartbeats and rotations"). One database and queue prefix of its own, the IAM emulator in this
// process (4 AWS accounts), Keyturn's worker from dist as a child process, and the raw baseline
// (scripts/bench-aws-raw.mjs) as another child process. Keyturn's path: the API stores each request
// and enqueues it (queue paused), then the clock runs from the queue's resume to the last job's completion
// as the worker stamped it (once Postgres has every row finished). The raw path: the same AWS calls at the
// same concurrency with the minimum Postgres work, its clock to its own stamp of its last completion, on a
// second set of secrets of the same shape. Rounds interleave the two (the order alternates); prints every round, the ratio Keyturn / raw with its spread, and AWS calls per operation counted by
// the emulator. Asserts nothing; cleans up its database, queue keys and processes.
import { spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { cpus, loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { createInterface } from 'node:readline';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import pg from 'pg';
import { cpuMs, pidsNamed, startApi, teardown } from './bench-common.mjs';

const ADMIN = process.env.BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const REDIS_URL = process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379';
const ROOT = new URL('../', import.meta.url).pathname;
const ACCOUNT_IDS = ['123456789012', '210987654321', '310987654321', '410987654321'];
// High enough that Keyturn's pacer (max 1000 per account) never binds: the bench measures overhead, not AWS's quota.
const RATE_PER_ACCOUNT = 1000;

const { loadConfig } = await import('../dist/libs/config/src/index.js');
const { generateMasterKey } = await import('../dist/libs/crypto/src/index.js');
const { generateToken } = await import('../dist/libs/auth/src/index.js');
const { requiredPermissions } = await import('../dist/libs/secrets/src/index.js');
const { startIamEmulator } = await import('../dist-test/iam-emulator/src/index.js');

/** A child process that prints lines; `line(re)` resolves with the first next line matching. */
function child(args, env) {
  const p = spawn(process.execPath, args, { cwd: ROOT, env: { PATH: process.env.PATH, ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
  let tail = '';
  const waiters = [];
  const onLine = (l) => {
    tail = (tail + l + '\n').slice(-8000);
    const i = waiters.findIndex((w) => w.re.test(l));
    if (i >= 0) waiters.splice(i, 1)[0].resolve(l);
  };
  createInterface({ input: p.stdout }).on('line', onLine);
  createInterface({ input: p.stderr }).on('line', onLine);
  const exited = new Promise((resolve) => p.once('exit', resolve));
  const line = (re) =>
    new Promise((resolve, reject) => {
      waiters.push({ re, resolve });
      exited.then((code) => reject(new Error(`${args[0]} exited (${code}):\n${tail}`)));
    });
  const stop = async () => {
    if (p.exitCode === null) p.kill('SIGTERM');
    await exited;
  };
  return { p, line, stop };
}

/** The cluster's WAL insert position: the bytes between two readings are what Postgres wrote in between (nothing else runs). */
const WAL_LSN = `SELECT pg_current_wal_insert_lsn()::text AS lsn`;
const lsnBytes = (lsn) => {
  const [hi, lo] = lsn.split('/');
  return parseInt(hi, 16) * 2 ** 32 + parseInt(lo, 16);
};

const stats = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return { median: s[Math.floor(s.length / 2)], min: s[0], max: s.at(-1) };
};

/**
 * kind: 'heartbeat' | 'rotation'. Options on the command line: --secrets N per side, --rounds,
 * --latency 0,50 (ms the emulator waits before each answer), --concurrency (worker and raw).
 */
export async function runBench(kind) {
  const { values } = parseArgs({
    options: {
      secrets: { type: 'string', default: kind === 'heartbeat' ? '400' : '200' },
      rounds: { type: 'string', default: '3' },
      latency: { type: 'string', default: '0,50' },
      concurrency: { type: 'string', default: '10' },
      // For measuring a Keyturn that lists the keys on every heartbeat (before issue 14): the raw loop then lists too.
      'raw-lists-keys': { type: 'boolean', default: false },
      // A directory: the worker and the raw loop are profiled during each measured pass only
      // (scripts/bench-profile-hook.mjs), into <dir>/keyturn-<n>.cpuprofile and <dir>/raw-<n>.cpuprofile.
      'cpu-prof': { type: 'string' },
    },
  });
  const N = Number(values.secrets);
  const ROUNDS = Math.max(3, Number(values.rounds));
  const LATENCIES = values.latency.split(',').map(Number);
  const CONCURRENCY = Number(values.concurrency);

  const emu = await startIamEmulator({ port: 0 });
  for (const id of ACCOUNT_IDS.slice(1)) emu.addAccount(id);
  const admin = new pg.Client({ connectionString: ADMIN });
  await admin.connect();
  const name = `keyturn_bench_${randomBytes(3).toString('hex')}`;
  const dbUrl = ADMIN.replace(/\/[^/]*$/, `/${name}`);
  const prefix = `kt-bench-${randomBytes(4).toString('hex')}`;
  await admin.query(`CREATE DATABASE ${name}`);
  const token = generateToken();
  const masterKey = generateMasterKey();
  const env = {
    NODE_ENV: 'test', LOG_LEVEL: 'info', DATABASE_URL: dbUrl, REDIS_URL, KEYTURN_QUEUE_PREFIX: prefix, KEYTURN_MASTER_KEY: masterKey,
    KEYTURN_BOOTSTRAP_ADMIN_TOKEN: token, AWS_ENDPOINT_URL_IAM: emu.url, AWS_ENDPOINT_URL_STS: emu.url, AWS_REGION: 'us-east-1',
    KEYTURN_AWS_RATE_PER_ACCOUNT: String(RATE_PER_ACCOUNT), KEYTURN_WORKER_CONCURRENCY: String(CONCURRENCY),
    // The emulator's keys work at once (no propagation delay), so Keyturn verifies at once, as the raw loop does.
    KEYTURN_VERIFY_INITIAL_DELAY_MS: '0', WORKER_OPS_PORT: '0',
  };
  let api;
  let worker;
  let raw;
  let db;
  const queueConnection = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
  const queue = new Queue(kind, { connection: queueConnection, prefix });
  try {
    let call;
    ({ api, call } = await startApi(loadConfig({ ...env, NODE_ENV: 'test', LOG_LEVEL: 'error' }), token));
    const inBatches = async (items, f) => {
      const out = [];
      for (let i = 0; i < items.length; i += 20) out.push(...(await Promise.all(items.slice(i, i + 20).map(f))));
      return out;
    };
    // Two sets of secrets of the same shape over the 4 accounts: one for Keyturn, one for the raw loop.
    const seed = (side) =>
      inBatches([...Array(N).keys()], async (i) => {
        const accountId = ACCOUNT_IDS[i % ACCOUNT_IDS.length];
        const username = `bench-${side}-${randomBytes(4).toString('hex')}`;
        const policy = requiredPermissions({ type: 'aws-iam-key', partition: 'aws', accountId, targetUser: username, executorUser: username }).policy;
        const u = emu.seedUser(username, { policies: { keyturn: policy }, withAccessKey: true, accountId });
        const s = await call('POST', '/v1/secrets', { type: 'aws-iam-key', name: username, folder: '/bench', username, accountId, accessKeyId: u.accessKeyId, secretAccessKey: u.secretAccessKey });
        return { id: s.id, username, accountId };
      });
    const keyturnSecrets = await seed('k');
    const rawSecrets = await seed('r');
    db = new pg.Client({ connectionString: dbUrl });
    await db.connect();
    if (process.env.BENCH_WAL_STATS) await db.query(`CREATE EXTENSION IF NOT EXISTS pg_walinspect`);
    // The scheduler is not running: every secret's first heartbeat is what this bench asks for.
    await db.query(`UPDATE heartbeat_due SET due_at = NULL`);

    // BENCH_WORKER_NODE_ARGS, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof", profiles the worker.
    const profileDir = values['cpu-prof'];
    // Made here: the profiled processes write into it and die on a directory that is not there.
    if (profileDir) mkdirSync(profileDir, { recursive: true });
    const profiling = (name) => (profileDir ? { args: ['--import', './scripts/bench-profile-hook.mjs'], env: { BENCH_PROFILE_DIR: profileDir, BENCH_PROFILE_NAME: name, ...(process.env.BENCH_PROFILE_INTERVAL_US ? { BENCH_PROFILE_INTERVAL_US: process.env.BENCH_PROFILE_INTERVAL_US } : {}) } } : { args: [], env: {} });
    const nodeArgs = (process.env.BENCH_WORKER_NODE_ARGS ?? '').split(' ').filter(Boolean);
    worker = child([...profiling('keyturn').args, ...nodeArgs, 'dist/apps/rotation-worker/src/main.js'], { ...env, ...profiling('keyturn').env });
    await worker.line(/ready: connected/);
    // BENCH_RAW_NODE_ARGS: the same for the raw loop.
    raw = child([...profiling('raw').args, ...(process.env.BENCH_RAW_NODE_ARGS ?? '').split(' ').filter(Boolean), 'scripts/bench-aws-raw.mjs'], profiling('raw').env);
    raw.p.stdin.write(JSON.stringify({ mode: kind, listKeys: values['raw-lists-keys'], dbUrl, masterKey, endpoint: emu.url, concurrency: CONCURRENCY, secrets: rawSecrets }) + '\n');
    await raw.line(/^ready$/);

    // The wait for Keyturn's rows: only this pass's rows can be unfinished (the raw loop writes its heartbeats
    // finished and makes no rotation rows, and nothing else runs), so a count of unfinished rows, named so
    // Postgres plans it once, is the cheapest check of "every row finished". It runs every 100 ms: the
    // clock does not stop on it (below), so the tick only has to be cheap, not fine.
    const unfinished =
      kind === 'heartbeat'
        ? { name: 'bench_unfinished', text: `SELECT count(*)::int AS n FROM heartbeats WHERE status <> 'done'` }
        : { name: 'bench_unfinished', text: `SELECT count(*)::int AS n FROM rotations WHERE status NOT IN ('succeeded', 'failed') OR retire_pending` };
    // BullMQ's completed set: a job's score is the time its worker completed it (the worker's Date.now()
    // as it reports the job completed, after the job's row is finished). Jobs are kept there an hour.
    const completedKey = `${prefix}:${kind}:completed`;
    const table = kind === 'heartbeat' ? 'heartbeats' : 'rotations';
    const finished = kind === 'heartbeat' ? `status = 'done'` : `status IN ('succeeded', 'failed') AND NOT retire_pending`;
    /** One pass of Keyturn over its secrets: seconds, and AWS calls per operation. */
    const keyturnPass = async (latencyMs, clockStarts = () => {}) => {
      await queue.pause();
      const ids = await inBatches(keyturnSecrets, async (s) => (await call('POST', `/v1/secrets/${s.id}/${kind === 'heartbeat' ? 'heartbeats' : 'rotations'}`)).id);
      emu.setLatencyMs(latencyMs);
      emu.clearCallLog();
      // The clock stops on the side's own stamp of its last completion, as the raw loop's does: the last
      // score in BullMQ's completed set. Before, this process stopped it as BullMQ's events stream reported
      // the last completion: reading every event of the pass (each job's active and completed, and more)
      // cost this process ≈0.25–0.4 ms of CPU per heartbeat on the 2 cores Keyturn was using, which is
      // the instrument's cost, not Keyturn's; and before that, on a 20 ms tick of the count.
      clockStarts();
      const started = performance.now();
      const startedAt = Date.now();
      await queue.resume();
      // Done when every row is finished and every job completed (a job completes just after its row is finished).
      for (;;) {
        const { rows: [{ n }] } = await db.query(unfinished);
        const completions = await queueConnection.zcount(completedKey, startedAt, '+inf');
        if (completions > ids.length) throw new Error(`Keyturn's pass completed ${completions} jobs, not ${ids.length}`);
        if (n === 0 && completions === ids.length) break;
        if (performance.now() - started > 15 * 60_000) throw new Error(`Keyturn did not finish: ${n} of ${ids.length} rows unfinished, ${completions} jobs completed`);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      const [, lastAt] = await queueConnection.zrange(completedKey, '+inf', startedAt, 'BYSCORE', 'REV', 'LIMIT', 0, 1, 'WITHSCORES');
      const seconds = (Number(lastAt) - startedAt) / 1000;
      const { rows: [{ n: done }] } = await db.query(`SELECT count(*)::int AS n FROM ${table} WHERE id = ANY($1::uuid[]) AND ${finished}`, [ids]);
      if (done !== ids.length) throw new Error(`Keyturn's pass ended with ${done} of its ${ids.length} ${table} rows finished`);
      const { rows: [{ failed }] } = await db.query(
        kind === 'heartbeat'
          ? `SELECT count(*)::int AS failed FROM heartbeats WHERE id = ANY($1::uuid[]) AND outcome IS DISTINCT FROM 'success'`
          : `SELECT count(*)::int AS failed FROM rotations WHERE id = ANY($1::uuid[]) AND status <> 'succeeded'`,
        [ids],
      );
      emu.setLatencyMs(0);
      return { seconds, calls: emu.callCounts(), failed };
    };
    const rawPass = async (latencyMs, clockStarts = () => {}) => {
      emu.setLatencyMs(latencyMs);
      emu.clearCallLog();
      clockStarts();
      const startedAt = Date.now();
      raw.p.stdin.write('go\n');
      const result = JSON.parse(await raw.line(/^\{"done"/));
      // The raw loop's own stamp of its last completion (Date.now() as its last lane ends), as Keyturn's.
      const seconds = (result.endedAt - startedAt) / 1000;
      emu.setLatencyMs(0);
      return { seconds, calls: emu.callCounts(), failed: result.failed };
    };
    /**
     * CPU spent by each part while the clock of `pass` runs, in ms per operation: the side's own process
     * (Keyturn's worker or the raw loop), Postgres (every backend), Redis, and this process (the emulator;
     * for Keyturn also the wait for the rows, a count every 100 ms). `pass` calls its argument as its clock
     * starts (after Keyturn's requests are stored and enqueued).
     */
    const withCpu = async (sidePid, pass) => {
      const groups = { side: [sidePid], pg: pidsNamed('postgres'), redis: pidsNamed('redis-server'), emulator: [process.pid] };
      const sum = (pids) => pids.reduce((a, pid) => a + cpuMs(pid, true), 0);
      let before;
      let walBefore;
      const result = await pass(() => {
        if (profileDir) process.kill(sidePid, 'SIGTTOU');
        before = Object.fromEntries(Object.entries(groups).map(([k, pids]) => [k, sum(pids)]));
        walBefore = db.query(WAL_LSN);
      });
      const walAfter = await db.query(WAL_LSN);
      if (profileDir) {
        process.kill(sidePid, 'SIGTTIN');
        await new Promise((resolve) => setTimeout(resolve, 1_000)); // the profile is written
      }
      // Backends that started during the pass counted from 0: included whole, which is what they spent.
      groups.pg = [...new Set([...groups.pg, ...pidsNamed('postgres')])];
      result.cpu = Object.fromEntries(Object.entries(groups).map(([k, pids]) => [k, (sum(pids) - before[k]) / N]));
      const walFrom = (await walBefore).rows[0].lsn;
      result.walBytes = (lsnBytes(walAfter.rows[0].lsn) - lsnBytes(walFrom)) / N;
      if (process.env.BENCH_WAL_STATS) {
        // pg_walinspect reads only flushed WAL: the last asynchronous commits are flushed within wal_writer_delay.
        await new Promise((resolve) => setTimeout(resolve, 500));
        // The pass's WAL by record type, per operation (pg_walinspect): where the bytes and records go.
        const { rows } = await db.query(
          `SELECT "resource_manager/record_type" AS t, count, combined_size AS size, fpi_size AS fpi FROM pg_get_wal_stats($1::pg_lsn, $2::pg_lsn, true) WHERE count > 0 ORDER BY combined_size DESC LIMIT 14`,
          [walFrom, walAfter.rows[0].lsn],
        );
        if (process.env.BENCH_WAL_STATS === 'relations') {
          // Which tables and indexes the records touch (the first block each record names).
          const { rows: rel } = await db.query(
            `SELECT coalesce(c.relname, r.rel) AS rel, r.record_type, count(*)::int AS n, sum(r.record_length)::int AS bytes
               FROM (SELECT record_type, record_length, substring(block_ref from 'rel \\d+/\\d+/(\\d+)') AS rel
                       FROM pg_get_wal_records_info($1::pg_lsn, $2::pg_lsn)) r
               LEFT JOIN pg_class c ON c.relfilenode::text = r.rel
              GROUP BY 1, 2 ORDER BY 3 DESC LIMIT 30`,
            [walFrom, walAfter.rows[0].lsn],
          );
          console.log(`  WAL records of ${sidePid === worker.p.pid ? 'Keyturn' : 'raw'}'s pass, per operation, by relation: ` + rel.map((r) => `${r.rel} ${r.record_type} ${(r.n / N).toFixed(2)}`).join(', '));
        }
        console.log(`  WAL of ${sidePid === worker.p.pid ? 'Keyturn' : 'raw'}'s pass, per operation: ` + rows.map((r) => `${r.t} ${(r.count / N).toFixed(2)}×${(r.size / N).toFixed(0)} B${Number(r.fpi) ? ` (fpi ${(r.fpi / N).toFixed(0)})` : ''}`).join(', '));
      }
      return result;
    };
    const describeCpu = (cpus) => {
      const median = (k) => stats(cpus.map((c) => c[k])).median;
      const parts = ['side', 'pg', 'redis', 'emulator'].map((k) => median(k));
      return `${parts.map((v) => v.toFixed(2)).join(' + ')} = ${parts.reduce((a, b) => a + b, 0).toFixed(2)}`;
    };
    const perOp = (calls) => Object.values(calls).reduce((a, b) => a + b, 0) / N;
    const describeCalls = (calls) => Object.entries(calls).map(([a, n]) => `${a} ${(n / N).toFixed(2)}`).join(', ');

    console.log(`bench:${kind}: ${N} secrets per side over ${ACCOUNT_IDS.length} accounts, concurrency ${CONCURRENCY} (KEYTURN_WORKER_CONCURRENCY and the raw loop's),`);
    console.log(`KEYTURN_AWS_RATE_PER_ACCOUNT=${RATE_PER_ACCOUNT} and no emulator throttling (neither bounds the run); ${cpus().length} cores, load ${loadavg()[0].toFixed(1)}`);
    // Warm-up, not measured: JIT, connection pools, SDK clients, and (rotations) every user at two keys, as in steady state.
    const w1 = await keyturnPass(0);
    const w2 = await rawPass(0);
    console.log(`warm-up: Keyturn ${w1.seconds.toFixed(2)} s (${describeCalls(w1.calls)}), raw ${w2.seconds.toFixed(2)} s (${describeCalls(w2.calls)})`);
    const summary = [];
    for (const latencyMs of LATENCIES) {
      console.log(`\nemulator latency ${latencyMs} ms`);
      console.log(`${'round'.padEnd(6)} ${'Keyturn s'.padStart(10)} ${'op/s'.padStart(8)} ${'raw s'.padStart(8)} ${'op/s'.padStart(8)} ${'ratio'.padStart(6)}  AWS calls per ${kind} (Keyturn | raw)`);
      const ratios = [];
      const cpuK = [];
      const cpuW = [];
      const walK = [];
      const walW = [];
      for (let r = 1; r <= ROUNDS; r++) {
        // Interleaved, the order alternating, so drift in the machine's load falls on both sides.
        let k;
        let w;
        const keyturnRound = () => withCpu(worker.p.pid, (clockStarts) => keyturnPass(latencyMs, clockStarts));
        const rawRound = () => withCpu(raw.p.pid, (clockStarts) => rawPass(latencyMs, clockStarts));
        if (r % 2) {
          k = await keyturnRound();
          w = await rawRound();
        } else {
          w = await rawRound();
          k = await keyturnRound();
        }
        cpuK.push(k.cpu);
        cpuW.push(w.cpu);
        walK.push(k.walBytes);
        walW.push(w.walBytes);
        const ratio = w.seconds / k.seconds;
        ratios.push(ratio);
        const failures = k.failed || w.failed ? `  (failed: Keyturn ${k.failed}, raw ${w.failed})` : '';
        console.log(
          `${String(r).padEnd(6)} ${k.seconds.toFixed(2).padStart(10)} ${(N / k.seconds).toFixed(0).padStart(8)} ${w.seconds.toFixed(2).padStart(8)} ${(N / w.seconds).toFixed(0).padStart(8)} ${ratio.toFixed(2).padStart(6)}  ` +
            `${perOp(k.calls).toFixed(2)} | ${perOp(w.calls).toFixed(2)}  [${describeCalls(k.calls)}]${failures}`,
        );
      }
      const st = stats(ratios);
      console.log(`CPU ms per ${kind}, median of the rounds (side's process + Postgres + Redis + emulator):`);
      console.log(`  Keyturn ${describeCpu(cpuK)}\n  raw     ${describeCpu(cpuW)}`);
      console.log(`WAL bytes per ${kind}, median of the rounds: Keyturn ${stats(walK).median.toFixed(0)}, raw ${stats(walW).median.toFixed(0)}`);
      summary.push(`latency ${latencyMs} ms: Keyturn / raw = ${st.median.toFixed(2)} (median of ${ROUNDS}; spread ${st.min.toFixed(2)}–${st.max.toFixed(2)})`);
    }
    console.log(`\n${summary.join('\n')}\nload ${loadavg()[0].toFixed(1)} at the end`);
  } finally {
    await raw?.stop();
    await worker?.stop();
    await db?.end();
    await teardown({ queue, queueConnection, api, redisUrl: REDIS_URL, prefix, admin, database: name });
    await admin.end();
    await emu.close();
  }
}
