#!/usr/bin/env node
// `npm run bench:read [-- --rounds 3 --duration 10 --warmup 5 --connections 50]`: the API's read paths against a raw
// baseline (scripts/bench-read-raw.mjs: plain Fastify + pg running the same SQL, decryption and audit insert).
// Both servers run as child processes started the same way (node, the same database, the same pool size);
// autocannon drives them from this process, rounds interleaved (Keyturn, raw, Keyturn, raw, ...).
// Prints every round (req/s, p50/p99 latency, server CPU ms per request) and the ratio Keyturn / raw with
// its spread. Asserts nothing. Uses a throwaway database and queue prefix, dropped at the end.
import { fork, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import pg from 'pg';
import { cpuMs } from './bench-common.mjs';

const { values: opt } = parseArgs({
  options: {
    rounds: { type: 'string', default: '3' },
    duration: { type: 'string', default: '10' },
    // Seconds of load on each server before its first measured round: Keyturn has more code to compile than raw.
    warmup: { type: 'string', default: '5' },
    connections: { type: 'string', default: '50' },
    paths: { type: 'string', default: 'value,get,list' },
    // A directory: each measured run of either server is profiled (scripts/bench-profile-hook.mjs) into it.
    'cpu-prof': { type: 'string' },
  },
});
const ROUNDS = Number(opt.rounds);
const DURATION = Number(opt.duration);
const CONNECTIONS = Number(opt.connections);
const ADMIN = process.env.BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const REDIS_URL = process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379';
const name = `keyturn_bench_read_${randomBytes(3).toString('hex')}`;
const dbUrl = ADMIN.replace(/\/[^/]*$/, `/${name}`);
const SECRETS = 20;
const LIST_ROWS = 1000;

const { generateMasterKey } = await import('../dist/libs/crypto/src/index.js');
const { generateToken } = await import('../dist/libs/auth/src/index.js');

const env = {
  ...process.env,
  NODE_ENV: 'production',
  LOG_LEVEL: process.env.BENCH_LOG_LEVEL ?? 'info',
  DATABASE_URL: dbUrl,
  REDIS_URL,
  KEYTURN_MASTER_KEY: generateMasterKey(),
  KEYTURN_BOOTSTRAP_ADMIN_TOKEN: generateToken(),
  KEYTURN_QUEUE_PREFIX: `kt-${name}`,
  HOST: '127.0.0.1',
  PORT: '0',
};

const profiling = () => (opt['cpu-prof'] ? ['--import', './scripts/bench-profile-hook.mjs'] : []);
if (opt['cpu-prof']) {
  mkdirSync(opt['cpu-prof'], { recursive: true });
  env.BENCH_PROFILE_DIR = opt['cpu-prof'];
}

const run = (cmd, args) =>
  new Promise((resolve, reject) => {
    const p = spawn(cmd, args, { env, stdio: ['ignore', 'ignore', 'inherit'] });
    p.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`${args.join(' ')} exited ${code}`))));
  });

/** Keyturn's API as deployed: `node dist/apps/secrets-api/src/main.js`; ready once it logs that it listens. */
async function startKeyturn() {
  const port = await freePort();
  const p = spawn(process.execPath, [...profiling('keyturn'), ...(process.env.BENCH_API_NODE_ARGS ?? '').split(' ').filter(Boolean), 'dist/apps/secrets-api/src/main.js'], {
    env: { ...env, PORT: String(port), BENCH_PROFILE_NAME: 'keyturn' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let buf = '';
  await new Promise((resolve, reject) => {
    p.on('exit', (code) => reject(new Error(`Keyturn API exited ${code}`)));
    p.stdout.on('data', (d) => {
      buf += d;
      if (buf.includes('listening on http://')) resolve();
      if (buf.length > 1e5) buf = buf.slice(-1e4);
    });
  });
  // The rest of its log goes nowhere, as to a log driver: read and dropped, so the pipe never blocks it.
  p.stdout.removeAllListeners('data');
  if (process.env.BENCH_SHOW_LOG) p.stdout.on('data', (d) => process.stderr.write(d)); else p.stdout.resume();
  return { proc: p, base: `http://127.0.0.1:${port}` };
}

async function startRaw() {
  const p = fork('scripts/bench-read-raw.mjs', [], { env: { ...env, BENCH_PROFILE_NAME: 'raw' }, execArgv: profiling('raw'), stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
  const [msg] = await once(p, 'message');
  return { proc: p, base: `http://127.0.0.1:${msg.port}` };
}

async function freePort() {
  const srv = createServer().listen(0, '127.0.0.1');
  await once(srv, 'listening');
  const { port } = srv.address();
  srv.close();
  return port;
}

const admin = new pg.Client({ connectionString: ADMIN });
await admin.connect();
await admin.query(`CREATE DATABASE ${name}`);
const servers = [];
try {
  await run(process.execPath, ['dist/apps/cli/src/main.js', 'migrate']);
  const keyturn = await startKeyturn();
  servers.push(keyturn.proc);
  const call = async (method, path, token, body) => {
    const r = await fetch(keyturn.base + path, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    });
    const json = await r.json();
    if (r.status >= 300) throw new Error(`${method} ${path}: ${r.status} ${JSON.stringify(json)}`);
    return json;
  };
  // A reader key scoped to /bench (reads values, sees metadata): the scope check runs on every request.
  const reader = (await call('POST', '/v1/api-keys', env.KEYTURN_BOOTSTRAP_ADMIN_TOKEN, { name: 'bench reader', role: 'reader', folderScopes: ['/bench'] })).token;
  const ids = [];
  for (let i = 0; i < SECRETS; i++) {
    const s = await call('POST', '/v1/secrets', env.KEYTURN_BOOTSTRAP_ADMIN_TOKEN, {
      type: 'aws-iam-key', name: `bench-${i}`, folder: '/bench/prod', username: `bench-user-${i}`, accountId: '123456789012',
      accessKeyId: `AKIA${randomBytes(8).toString('hex').toUpperCase()}`, secretAccessKey: randomBytes(30).toString('base64'),
    });
    ids.push(s.id);
  }
  const db = new pg.Client({ connectionString: dbUrl });
  await db.connect();
  // Metadata-only rows so that every list page is full (time-ordered ids, as uuidv7 makes them).
  await db.query(`
    INSERT INTO secrets (id, type, name, folder, username, account_id, heartbeat_status)
    SELECT (lpad(to_hex(i), 12, '0') || '-7000-8000-' || substr(md5(i::text), 1, 12))::uuid, 'aws-iam-key',
           'list-' || i, '/bench/list-' || (i % 10), 'user-' || i, '123456789012', 'success'
      FROM generate_series(1, $1) AS i`, [LIST_ROWS]);
  await db.query('ANALYZE');
  await db.end();

  const raw = await startRaw();
  servers.push(raw.proc);
  const targets = { keyturn, raw };

  const PATHS = {
    value: { label: 'GET /v1/secrets/:id/value', path: (i) => `/v1/secrets/${ids[i % ids.length]}/value` },
    get: { label: 'GET /v1/secrets/:id', path: (i) => `/v1/secrets/${ids[i % ids.length]}` },
    list: { label: 'GET /v1/secrets?limit=50', path: () => '/v1/secrets?limit=50' },
  };

  // Both answer alike (status and body keys), so both do the same work: checked once before measuring.
  for (const { path } of Object.values(PATHS)) {
    const bodies = [];
    for (const t of Object.values(targets)) {
      const r = await fetch(t.base + path(0), { headers: { authorization: `Bearer ${reader}` } });
      if (r.status !== 200) throw new Error(`${t.base}${path(0)}: ${r.status} ${await r.text()}`);
      bodies.push(await r.json());
    }
    const shape = (b) => JSON.stringify(b, (k, v) => (k === 'updatedAt' || k === 'createdAt' ? '' : v));
    if (shape(bodies[0]) !== shape(bodies[1])) throw new Error(`bodies differ for ${path(0)}:\n${shape(bodies[0])}\n${shape(bodies[1])}`);
  }

  const load = async (t, p, duration, measured = true) => {
    let n = 0;
    const profile = measured && opt['cpu-prof'];
    if (profile) t.proc.kill('SIGTTOU');
    const before = cpuMs(t.proc.pid);
    const res = await autocannon({
      url: t.base,
      connections: CONNECTIONS,
      duration,
      headers: { authorization: `Bearer ${reader}` },
      requests: [{ method: 'GET', setupRequest: (req) => ({ ...req, path: p.path(n++) }) }],
    });
    const cpu = cpuMs(t.proc.pid) - before;
    if (profile) t.proc.kill('SIGTTIN');
    const bad = res.non2xx + res.errors + res.timeouts;
    if (bad) throw new Error(`${t.base}: ${res.non2xx} non-2xx, ${res.errors} errors, ${res.timeouts} timeouts`);
    return { rps: res.requests.average, p50: res.latency.p50, p99: res.latency.p99, cpuPerReq: cpu / res.requests.total, total: res.requests.total };
  };

  const fmt = (r) =>
    `${r.rps.toFixed(0).padStart(6)} req/s  p50 ${String(r.p50).padStart(4)} ms  p99 ${String(r.p99).padStart(4)} ms  CPU ${r.cpuPerReq.toFixed(3)} ms/req`;
  console.log(`\n${CONNECTIONS} connections, ${DURATION} s per run, ${ROUNDS} rounds (Keyturn and raw interleaved; both servers are child processes)`);
  const summary = [];
  for (const key of opt.paths.split(',')) {
    const p = PATHS[key];
    console.log(`\n${p.label}`);
    // Warm both (JIT, pools) before the first measured round.
    for (const t of Object.values(targets)) await load(t, p, Number(opt.warmup), false);
    const ratios = [];
    const cpuRatios = [];
    for (let r = 1; r <= ROUNDS; r++) {
      // The order alternates, so drift (the audit table growing, autovacuum, the machine's load) falls on both.
      let k;
      let b;
      if (r % 2) {
        k = await load(keyturn, p, DURATION);
        b = await load(raw, p, DURATION);
      } else {
        b = await load(raw, p, DURATION);
        k = await load(keyturn, p, DURATION);
      }
      ratios.push(k.rps / b.rps);
      cpuRatios.push(b.cpuPerReq / k.cpuPerReq);
      console.log(`  round ${r}  keyturn ${fmt(k)}`);
      console.log(`           raw     ${fmt(b)}   ratio ${(k.rps / b.rps).toFixed(2)}`);
    }
    const sorted = [...ratios].sort((a, b) => a - b);
    const median = sorted[Math.floor(sorted.length / 2)];
    const line = `${p.label}: Keyturn / raw = ${median.toFixed(2)} (median; ${sorted[0].toFixed(2)}–${sorted[sorted.length - 1].toFixed(2)} over ${ROUNDS} rounds); ` +
      `raw CPU / Keyturn CPU per request ${Math.min(...cpuRatios).toFixed(2)}–${Math.max(...cpuRatios).toFixed(2)}`;
    summary.push(line);
  }
  console.log('\n' + summary.join('\n'));
} finally {
  for (const p of servers) p.kill('SIGTERM');
  await Promise.all(servers.map((p) => (p.exitCode === null ? once(p, 'exit') : null)));
  await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  await admin.end();
  // The API's Redis keys under this prefix (the limiter's, if any): delete them.
  const { Redis } = await import('ioredis');
  const redis = new Redis(REDIS_URL);
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${env.KEYTURN_QUEUE_PREFIX}*`, 'COUNT', 1000);
    if (keys.length) await redis.del(...keys);
    cursor = next;
  } while (cursor !== '0');
  redis.disconnect();
}
