#!/usr/bin/env node
// `npm run bench:scale [-- --rotations 60 --workers 1,2,4 --latency 50 --rate 20 --concurrency 1]`
//
// Rotations per second with 1, 2 and 4 worker processes against the IAM emulator at a fixed AWS
// latency, for one AWS account and for four, and the ratio of each to ideal linear scaling (the
// one-worker figure times the number of workers). Each round has its own database and queue prefix.
// Then Redis memory per queued and per finished job, measured on the real enqueue path.
// Prints figures; asserts nothing. Needs the local Postgres and Redis (like the tests).
import { spawn } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { cpus, loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { Queue, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import pg from 'pg';
import { deletePrefix, startApi, teardown } from './bench-common.mjs';

const { values } = parseArgs({
  options: {
    rotations: { type: 'string', default: '60' },
    workers: { type: 'string', default: '1,2,4' },
    accounts: { type: 'string', default: '1,4' },
    latency: { type: 'string', default: '50' },
    rate: { type: 'string', default: '20' },
    concurrency: { type: 'string', default: '1' },
    'memory-jobs': { type: 'string', default: '10000' },
  },
});
const ROTATIONS = Number(values.rotations);
const WORKERS = values.workers.split(',').map(Number);
const ACCOUNTS = values.accounts.split(',').map(Number);
const LATENCY_MS = Number(values.latency);
const RATE = Number(values.rate);
const CONCURRENCY = Number(values.concurrency);
const MEMORY_JOBS = Number(values['memory-jobs']);
const ADMIN = process.env.BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const REDIS_URL = process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379';
const ROOT = new URL('../', import.meta.url).pathname;

const { loadConfig } = await import('../dist/libs/config/src/index.js');
const { generateMasterKey } = await import('../dist/libs/crypto/src/index.js');
const { generateToken } = await import('../dist/libs/auth/src/index.js');
const { requiredPermissions } = await import('../dist/libs/secrets/src/index.js');
const { FairShare, JobProducer } = await import('../dist/libs/queue/src/index.js');
const { JobName } = await import('../dist/libs/contracts/src/index.js');
const { startIamEmulator } = await import('../dist-test/iam-emulator/src/index.js');

const ACCOUNT_IDS = ['123456789012', '210987654321', '310987654321', '410987654321'];
const emu = await startIamEmulator({ port: 0 });
for (const id of ACCOUNT_IDS.slice(1)) emu.addAccount(id);
const admin = new pg.Client({ connectionString: ADMIN });
await admin.connect();
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** One worker process from dist, as in production; resolves once it says it is ready. */
function startWorker(env) {
  const child = spawn(process.execPath, ['dist/apps/rotation-worker/src/main.js'], { cwd: ROOT, env: { PATH: process.env.PATH, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  return new Promise((resolve, reject) => {
    const onData = (b) => {
      out = (out + b.toString()).slice(-8000);
      if (/ready: connected/.test(out)) resolve(child);
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.once('exit', (code) => reject(new Error(`worker exited (${code}) before it was ready:\n${out}`)));
  });
}

/** One round: its own database, queue prefix and users; `workers` processes drain `ROTATIONS` rotations spread over `accounts` accounts. */
async function round(accounts, workers) {
  const name = `keyturn_bench_${randomBytes(3).toString('hex')}`;
  const dbUrl = ADMIN.replace(/\/[^/]*$/, `/${name}`);
  const prefix = `kt-bench-${randomBytes(4).toString('hex')}`;
  await admin.query(`CREATE DATABASE ${name}`);
  const token = generateToken();
  const env = {
    NODE_ENV: 'test', LOG_LEVEL: 'info', DATABASE_URL: dbUrl, REDIS_URL, KEYTURN_QUEUE_PREFIX: prefix, KEYTURN_MASTER_KEY: generateMasterKey(),
    KEYTURN_BOOTSTRAP_ADMIN_TOKEN: token, AWS_ENDPOINT_URL_IAM: emu.url, AWS_ENDPOINT_URL_STS: emu.url, AWS_REGION: 'us-east-1',
    KEYTURN_AWS_RATE_PER_ACCOUNT: String(RATE), KEYTURN_WORKER_CONCURRENCY: String(CONCURRENCY), KEYTURN_VERIFY_INITIAL_DELAY_MS: '100',
    // Several workers on one machine: each ops listener on a port the system picks.
    WORKER_OPS_PORT: '0',
  };
  let api;
  const children = [];
  // BullMQ leaves the connections it is handed open: each is closed below, or the script would never exit.
  const queueConnection = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
  const queue = new Queue('rotation', { connection: queueConnection, prefix });
  try {
    let call;
    ({ api, call } = await startApi(loadConfig({ ...env, LOG_LEVEL: 'error' }), token));
    // Users straight into the emulator (no latency yet), one key secret each, spread evenly over the accounts.
    emu.resetFaults();
    const secrets = [];
    for (let i = 0; i < ROTATIONS; i++) {
      const accountId = ACCOUNT_IDS[i % accounts];
      const user = `bench-${randomBytes(4).toString('hex')}`;
      const policy = requiredPermissions({ type: 'aws-iam-key', partition: 'aws', accountId, targetUser: user, executorUser: user }).policy;
      const seeded = emu.seedUser(user, { policies: { keyturn: policy }, withAccessKey: true, accountId });
      const s = await call('POST', '/v1/secrets', {
        type: 'aws-iam-key', name: user, folder: '/bench', username: user, accountId, accessKeyId: seeded.accessKeyId, secretAccessKey: seeded.secretAccessKey,
      });
      secrets.push(s.id);
    }
    for (let i = 0; i < workers; i++) children.push(await startWorker(env));
    // Everything queued while the queue is paused, then released at once: the clock measures the workers alone.
    await queue.pause();
    const ids = [];
    for (const id of secrets) ids.push((await call('POST', `/v1/secrets/${id}/rotations`)).id);
    emu.setLatencyMs(LATENCY_MS);
    emu.clearCallLog();
    const db = new pg.Client({ connectionString: dbUrl });
    await db.connect();
    const started = performance.now();
    await queue.resume();
    let done;
    for (;;) {
      const { rows } = await db.query(`SELECT status, count(*)::int AS n FROM rotations WHERE id = ANY($1::uuid[]) GROUP BY status`, [ids]);
      done = Object.fromEntries(rows.map((r) => [r.status, r.n]));
      if ((done.succeeded ?? 0) + (done.failed ?? 0) === ids.length) break;
      if (performance.now() - started > 15 * 60_000) throw new Error(`round did not finish: ${JSON.stringify(done)}`);
      await sleep(50);
    }
    const seconds = (performance.now() - started) / 1000;
    const calls = emu.callLog().length;
    await db.end();
    return { seconds, perSecond: ids.length / seconds, failed: done.failed ?? 0, callsPerRotation: calls >= 1000 ? null : calls / ids.length };
  } finally {
    emu.resetFaults();
    await Promise.all(children.map((c) => new Promise((resolve) => (c.exitCode !== null ? resolve() : (c.once('exit', resolve), c.kill('SIGTERM'))))));
    await teardown({ queue, queueConnection, api, redisUrl: REDIS_URL, prefix, admin, database: name });
  }
}

/**
 * Redis memory per job, measured on the real enqueue path (JobProducer: the job, its priority
 * entry and its fair-share entries), as the sum of MEMORY USAGE over the run's own keys, so other
 * tenants of the same Redis do not disturb it. Then the same jobs once finished (kept by
 * removeOnComplete), after a no-op worker has taken them.
 */
async function memory(n) {
  const prefix = `kt-mem-${randomBytes(4).toString('hex')}`;
  const config = loadConfig({ REDIS_URL, KEYTURN_QUEUE_PREFIX: prefix });
  const producer = new JobProducer(config);
  const r = new Redis(REDIS_URL);
  const usage = async () => {
    let bytes = 0;
    let keys = 0;
    for (let cursor = '0'; ;) {
      const [next, found] = await r.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
      for (const k of found) bytes += Number((await r.call('MEMORY', 'USAGE', k, 'SAMPLES', '0')) ?? 0);
      keys += found.length;
      cursor = next;
      if (cursor === '0') break;
    }
    return { bytes, keys };
  };
  try {
    const base = await usage();
    for (let i = 0; i < n; i += 500) {
      const jobs = Array.from({ length: Math.min(500, n - i) }, (_, k) => {
        const id = randomUUID();
        return { payload: { rotationId: id, accountId: ACCOUNT_IDS[(i + k) % 4] }, jobId: `rotation-${id}` };
      });
      await producer.addBulk(JobName.RunRotation, jobs);
    }
    const queued = await usage();
    // A no-op worker that, like the real one, takes each job off its account's waiting count as it starts.
    const fair = new FairShare(r, prefix);
    const workerConnection = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
    const worker = new Worker('rotation', async (job) => void (await fair.started('rotation', { accountId: job.data.accountId, jobId: job.id })), {
      connection: workerConnection,
      prefix,
      concurrency: 50,
    });
    const q = producer.queue('rotation');
    while ((await q.getCompletedCount()) < Math.min(n, 10_000)) await sleep(200);
    await worker.close();
    workerConnection.disconnect();
    const finished = await usage();
    return { n, base, queued, finished, keptFinished: Math.min(n, 10_000) };
  } finally {
    await producer.queue('rotation').obliterate({ force: true }).catch(() => undefined);
    await producer.onApplicationShutdown();
    r.disconnect();
    await deletePrefix(REDIS_URL, prefix);
  }
}

try {
  console.log(`${ROTATIONS} rotations per round, ${LATENCY_MS} ms emulated AWS latency, KEYTURN_AWS_RATE_PER_ACCOUNT=${RATE}, KEYTURN_WORKER_CONCURRENCY=${CONCURRENCY}`);
  // Every process of a round (workers, API, emulator, Postgres, Redis) shares this machine: a busy one caps the bigger rounds.
  console.log(`${cpus().length} CPU cores, load average ${loadavg()[0].toFixed(1)} at the start\n`);
  console.log(`${'accounts'.padEnd(9)} ${'workers'.padEnd(8)} ${'seconds'.padStart(8)} ${'rot/s'.padStart(7)} ${'calls/rot'.padStart(10)} ${'vs linear'.padStart(10)} ${'pacer cap rot/s'.padStart(16)}`);
  for (const accounts of ACCOUNTS) {
    let one;
    for (const workers of WORKERS) {
      const r = await round(accounts, workers);
      one ??= r.perSecond / workers;
      const cap = r.callsPerRotation ? ((accounts * RATE) / r.callsPerRotation).toFixed(1) : '?';
      console.log(
        `${String(accounts).padEnd(9)} ${String(workers).padEnd(8)} ${r.seconds.toFixed(1).padStart(8)} ${r.perSecond.toFixed(2).padStart(7)} ${(r.callsPerRotation?.toFixed(1) ?? '>16').padStart(10)} ` +
          `${(r.perSecond / (one * workers)).toFixed(2).padStart(10)} ${cap.padStart(16)}${r.failed ? `  (${r.failed} failed)` : ''}`,
      );
    }
  }
  console.log(`load average ${loadavg()[0].toFixed(1)} at the end of the rounds`);
  if (MEMORY_JOBS > 0) {
    const m = await memory(MEMORY_JOBS);
    const per = (x) => ((x.bytes - m.base.bytes) / m.n).toFixed(0);
    console.log(`\nRedis memory (sum of MEMORY USAGE over the prefix's keys), ${m.n} rotation jobs over 4 accounts:`);
    console.log(`  queued:   ${((m.queued.bytes - m.base.bytes) / 1024 / 1024).toFixed(1)} MiB in ${m.queued.keys} keys = ${per(m.queued)} bytes per queued job`);
    console.log(`  finished: ${((m.finished.bytes - m.base.bytes) / 1024 / 1024).toFixed(1)} MiB in ${m.finished.keys} keys for ${m.keptFinished} kept finished jobs = ${((m.finished.bytes - m.base.bytes) / m.keptFinished).toFixed(0)} bytes per finished job`);
  }
} finally {
  await admin.end();
  await emu.close();
}
