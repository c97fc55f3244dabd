#!/usr/bin/env node
// `npm run demo`: a guided tour of Keyturn against the in-process IAM emulator.
// It starts everything it needs (emulator, a throw-away database, its own Redis
// prefix, the three apps built in dist/), walks through the features through the
// public REST API and the real AWS SDK, and tears it all down again, also on
// failure or Ctrl-C.
//
// The output is meant to be read by a person and checked by
// test/e2e/demo.e2e-spec.ts: it never contains a secret access key, a password,
// the API token or a full access key id (those are masked as AKIA…WXYZ).
import { spawn, execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, mkdtempSync, openSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { Redis } from 'ioredis';
import {
  CreateAccessKeyCommand,
  CreateLoginProfileCommand,
  CreateUserCommand,
  DeleteAccessKeyCommand,
  IAMClient,
  PutUserPolicyCommand,
} from '@aws-sdk/client-iam';
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const PG_URL = process.env.DEMO_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const REDIS_URL = process.env.DEMO_REDIS_URL ?? 'redis://127.0.0.1:6379';
const DEADLINE_MS = 180_000;
const REGION = 'us-east-1';
// The SDK's notice about future Node versions is about the project's runtime, not
// about this tour; it would only clutter the output.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

const APPS = {
  'secrets-api': 'dist/apps/secrets-api/src/main.js',
  'rotation-worker': 'dist/apps/rotation-worker/src/main.js',
  'heartbeat-scheduler': 'dist/apps/heartbeat-scheduler/src/main.js',
};

// ---------------------------------------------------------------- output

const out = (line = '') => void process.stdout.write(line + '\n');
let currentStep = 'start';
const step = (n, title) => {
  currentStep = `${n}. ${title}`;
  out();
  out(`== ${n}. ${title}`);
};
const say = (line) => out(`   ${line}`);

/** AKIA…WXYZ: enough to tell keys apart, not enough to use one. */
const mask = (accessKeyId) => (accessKeyId ? `${accessKeyId.slice(0, 4)}…${accessKeyId.slice(-4)}` : '(none)');

/**
 * Text that comes from elsewhere (server error messages, SDK errors) is
 * printed only after full access key ids and 40-character key-like tokens are
 * masked, so a leak elsewhere cannot turn into a leak here.
 */
const scrub = (text) =>
  String(text)
    .replace(/\b(AKIA|ASIA)[A-Z0-9]{16}\b/g, (id) => mask(id))
    .replace(/[A-Za-z0-9/+]{40,}/g, '[redacted]')
    .replace(/kt_[A-Za-z0-9_-]{16,}/g, 'kt_[redacted]');

/** A connection URL without its password, for messages. */
const safeUrl = (u) => {
  try {
    const url = new URL(u);
    if (url.password) url.password = '***';
    return url.toString();
  } catch {
    return '(unparsable URL)';
  }
};

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const seconds = (ms) => `${(ms / 1000).toFixed(1)} s`;

/** Polls `fn` until it returns something truthy; fails with `what` after `timeoutMs`. */
async function until(what, fn, timeoutMs = 30_000, everyMs = 250) {
  const end = Date.now() + timeoutMs;
  let last;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > end) throw new Error(`${what} did not happen within ${seconds(timeoutMs)}${last ? ` (last error: ${last.message})` : ''}`);
    await sleep(everyMs);
  }
}

// ---------------------------------------------------------------- resources (released in cleanup)

const state = {
  emulator: null,
  dbName: null,
  queuePrefix: null,
  apps: new Map(),
  logFd: null,
  logFile: null,
  sdkClients: [],
  stopping: false,
};

async function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

function cli(...args) {
  return execFileSync(process.execPath, [join(ROOT, 'dist/apps/cli/src/main.js'), ...args], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '' },
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  }).trim();
}

let appDied;
const appDeath = new Promise((_, reject) => {
  appDied = reject;
});
appDeath.catch(() => {});

function spawnApp(name, env) {
  const child = spawn(process.execPath, [join(ROOT, APPS[name])], {
    cwd: ROOT,
    env,
    stdio: ['ignore', state.logFd, state.logFd],
  });
  state.apps.set(name, child);
  child.on('exit', (code, signal) => {
    if (!state.stopping) appDied(new Error(`${name} exited unexpectedly (${signal ?? `code ${code}`}); its log is in ${state.logFile}`));
  });
  return child;
}

// ---------------------------------------------------------------- REST client

function restClient(baseUrl, token) {
  return async function call(method, path, body, expectStatus) {
    const headers = { authorization: `Bearer ${token}` };
    if (body !== undefined) headers['content-type'] = 'application/json';
    const res = await fetch(baseUrl + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    const text = await res.text();
    let parsed;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      parsed = text;
    }
    const ok = expectStatus === undefined ? res.ok : res.status === expectStatus;
    if (!ok) {
      const detail = parsed && typeof parsed === 'object' ? `${parsed.code ?? ''} ${parsed.message ?? ''}`.trim() : String(parsed ?? '');
      throw new Error(`${method} ${path} answered ${res.status}: ${scrub(detail)}`);
    }
    return parsed;
  };
}

// ---------------------------------------------------------------- the tour

async function run() {
  const started = Date.now();
  step(1, 'Start the IAM emulator, a fresh database, Redis prefix and Keyturn’s three apps');

  let emu;
  try {
    emu = await import(new URL('../dist-test/iam-emulator/src/index.js', import.meta.url).href);
  } catch (e) {
    throw new Error('dist-test/ is missing or incomplete: run `npm run build:test-tools` first (`npm run demo` does it for you)', { cause: e });
  }
  const emulator = await emu.startIamEmulator({ port: 0 });
  state.emulator = emulator;
  const account = emulator.accountId;
  say(`IAM + STS emulator listening on ${emulator.url} (account ${account})`);

  const tag = `${Date.now().toString(36)}_${randomBytes(3).toString('hex')}`;
  const dbName = `keyturn_demo_${tag}`;
  const admin = new pg.Client({ connectionString: PG_URL });
  try {
    await admin.connect();
  } catch (e) {
    throw new Error(`cannot reach Postgres at ${safeUrl(PG_URL)} (${e.message}); start it, or point DEMO_PG_URL at one`, { cause: e });
  }
  try {
    await admin.query(`CREATE DATABASE ${dbName}`);
    state.dbName = dbName;
  } finally {
    await admin.end();
  }
  const redis = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  let redisError;
  redis.on('error', (e) => (redisError = e));
  try {
    await redis.connect();
    await redis.ping();
  } catch (e) {
    throw new Error(`cannot reach Redis at ${safeUrl(REDIS_URL)} (${(redisError ?? e).message}); start it, or point DEMO_REDIS_URL at one`, { cause: e });
  } finally {
    redis.disconnect();
  }
  const dbUrl = new URL(PG_URL);
  dbUrl.pathname = `/${state.dbName}`;
  state.queuePrefix = `kt-demo-${tag}`;
  say(`Postgres database ${state.dbName}, Redis key prefix ${state.queuePrefix}`);

  const masterKey = cli('master-key', 'generate');
  const adminToken = cli('api-keys', 'token');
  say('generated a master key and a bootstrap admin token with the CLI (neither is shown)');

  const logDir = mkdtempSync(join(tmpdir(), 'keyturn-demo-'));
  state.logFile = join(logDir, 'apps.log');
  state.logFd = openSync(state.logFile, 'a');
  say(`app logs (LOG_LEVEL=warn) go to ${state.logFile}`);

  const baseEnv = {
    PATH: process.env.PATH ?? '',
    NODE_ENV: 'development',
    LOG_LEVEL: 'warn',
    DATABASE_URL: dbUrl.toString(),
    REDIS_URL,
    KEYTURN_QUEUE_PREFIX: state.queuePrefix,
    KEYTURN_MASTER_KEY: masterKey,
    // Never touch the developer's .keyturn/ even if the key above were missing.
    KEYTURN_MASTER_KEY_FILE: join(logDir, 'master.key'),
    KEYTURN_BOOTSTRAP_ADMIN_TOKEN: adminToken,
    AWS_ENDPOINT_URL_IAM: emulator.url,
    AWS_ENDPOINT_URL_STS: emulator.url,
    AWS_REGION: REGION,
    KEYTURN_SCHEDULER_TICK_MS: '500',
    KEYTURN_HEARTBEAT_INTERVAL_SECONDS: '10',
    KEYTURN_VERIFY_INITIAL_DELAY_MS: '100',
    // Ops listeners on ports the system picks: the demo must run beside an `npm start` that holds 8081 and 8082.
    WORKER_OPS_PORT: '0',
    SCHEDULER_OPS_PORT: '0',
  };
  const port = await freePort();
  const apiUrl = `http://127.0.0.1:${port}`;
  spawnApp('secrets-api', { ...baseEnv, HOST: '127.0.0.1', PORT: String(port) });
  spawnApp('rotation-worker', baseEnv);
  spawnApp('heartbeat-scheduler', baseEnv);
  const t0 = Date.now();
  await until('GET /health/ready answering 200', async () => (await fetch(`${apiUrl}/health/ready`)).status === 200, 60_000, 300);
  say(`secrets-api, rotation-worker and heartbeat-scheduler started; ${apiUrl}/health/ready answered 200 after ${seconds(Date.now() - t0)}`);

  const api = restClient(apiUrl, adminToken);
  const iam = new IAMClient({ endpoint: emulator.url, region: REGION, credentials: emulator.rootCredentials, maxAttempts: 2 });
  state.sdkClients.push(iam);

  /** Which ARN a key answers as through STS GetCallerIdentity, or the error AWS gives. */
  async function whoAmI(creds) {
    const sts = new STSClient({ endpoint: emulator.url, region: REGION, credentials: creds, maxAttempts: 1 });
    try {
      const r = await sts.send(new GetCallerIdentityCommand({}));
      return { arn: r.Arn };
    } catch (e) {
      return { error: e.name ?? 'error' };
    } finally {
      sts.destroy();
    }
  }
  const userArn = (name) => `arn:aws:iam::${account}:user/${name}`;
  const keysOf = (user) =>
    emulator
      .listKeys(user)
      .map((k) => `${mask(k.accessKeyId)} ${k.status}`)
      .join(', ') || 'none';

  step(2, 'Create IAM users with the AWS SDK and the account’s root credentials');
  async function createUserWithKey(name) {
    await iam.send(new CreateUserCommand({ UserName: name }));
    const { AccessKey } = await iam.send(new CreateAccessKeyCommand({ UserName: name }));
    say(`created ${name} with access key ${mask(AccessKey.AccessKeyId)} (no policy yet)`);
    return { accessKeyId: AccessKey.AccessKeyId, secretAccessKey: AccessKey.SecretAccessKey };
  }
  const appUserKey = await createUserWithKey('app-user');
  const rotatorKey = await createUserWithKey('rotator');
  const paymentsKey = await createUserWithKey('payments-svc');
  await iam.send(new CreateUserCommand({ UserName: 'console-user' }));
  // Meets AWS's default password policy (8+ characters, three classes); random so it is never a known value.
  const initialPassword = `Demo-${randomBytes(9).toString('base64url')}-7a!`;
  await iam.send(new CreateLoginProfileCommand({ UserName: 'console-user', Password: initialPassword }));
  say(`created console-user with a console password (${initialPassword.length} characters) and no access key`);

  step(3, 'Store the secrets in Keyturn and attach exactly the policies it asks for');
  async function storeKey(name, key, extra = {}) {
    const s = await api(
      'POST',
      '/v1/secrets',
      { type: 'aws-iam-key', name: `${name} key`, folder: '/demo', username: name, accountId: account, ...key, ...extra },
      201,
    );
    say(`stored ${name}'s key as secret ${s.id} (type ${s.type}, heartbeat ${s.heartbeatStatus})`);
    return s.id;
  }
  async function attachRequired(secretId, label, policyName) {
    const req = await api('GET', `/v1/secrets/${secretId}/required-permissions`);
    const [st] = req.policy.Statement;
    say(`GET /v1/secrets/${secretId}/required-permissions for ${label}: ${req.mode} mode, executed by ${req.executorUser}`);
    say(`  → Allow ${st.Action.join(', ')} on ${st.Resource}`);
    await iam.send(new PutUserPolicyCommand({ UserName: req.executorUser, PolicyName: policyName, PolicyDocument: JSON.stringify(req.policy) }));
    say(`  → attached as inline policy "${policyName}" to ${req.executorUser}, nothing more`);
    return req;
  }
  const appUserId = await storeKey('app-user', appUserKey);
  await attachRequired(appUserId, 'app-user', 'keyturn');
  const rotatorId = await storeKey('rotator', rotatorKey);
  const paymentsId = await storeKey('payments-svc', paymentsKey, { privilegedSecretId: rotatorId });
  say(`payments-svc's secret names rotator's secret ${rotatorId} as its privileged account`);
  await attachRequired(paymentsId, 'payments-svc', 'keyturn-payments-svc');
  const consoleSecret = await api(
    'POST',
    '/v1/secrets',
    {
      type: 'aws-iam-console-password',
      name: 'console-user console',
      folder: '/demo',
      username: 'console-user',
      accountId: account,
      password: initialPassword,
      privilegedSecretId: rotatorId,
    },
    201,
  );
  const consoleId = consoleSecret.id;
  say(`stored console-user's password as secret ${consoleId}, associated with rotator's key secret`);
  await attachRequired(consoleId, 'console-user', 'keyturn-console-user');

  /** Requests a rotation and follows it to its end; throws when it fails. */
  async function rotate(secretId, label) {
    const t = Date.now();
    const r = await api('POST', `/v1/secrets/${secretId}/rotations`, undefined, 202);
    say(`POST /v1/secrets/${secretId}/rotations → 202, rotation ${r.id} ${r.status}`);
    const done = await until(
      `rotation ${r.id} finishing`,
      async () => {
        const v = await api('GET', `/v1/rotations/${r.id}`);
        return v.status === 'succeeded' || v.status === 'failed' ? v : null;
      },
      60_000,
    );
    if (done.status !== 'succeeded') {
      throw new Error(`rotation of ${label} failed at step ${done.step}: ${done.errorCode}: ${scrub(done.errorMessage)}`);
    }
    const via = done.mode === 'privileged' ? ' (through rotator)' : '';
    say(`rotation of ${label}: succeeded in ${done.mode} mode${via} after ${seconds(Date.now() - t)}`);
    for (const w of done.warnings ?? []) say(`  warning ${w.code}: ${scrub(w.message)}`);
    return done;
  }
  const currentValue = async (secretId) => (await api('GET', `/v1/secrets/${secretId}/value`)).fields;

  /** Shows with STS that `oldKey` is refused and the stored key answers as `user`. */
  async function showKeys(user, oldKey, newKey) {
    if (newKey.accessKeyId === oldKey.accessKeyId) throw new Error(`${user}'s stored key did not change`);
    const fresh = await whoAmI(newKey);
    if (fresh.arn !== userArn(user)) throw new Error(`${user}'s new key ${mask(newKey.accessKeyId)} does not work (${fresh.error ?? fresh.arn})`);
    say(`new key ${mask(newKey.accessKeyId)}: STS GetCallerIdentity answers ${fresh.arn}`);
    // Retire is retried in the background when it fails the first time, so give it a moment.
    const stale = await until(`${user}'s old key being refused`, async () => {
      const r = await whoAmI(oldKey);
      return r.error ? r : null;
    }, 15_000);
    say(`old key ${mask(oldKey.accessKeyId)}: AWS refuses it (${stale.error})`);
    say(`${user}'s keys in IAM now: ${keysOf(user)}`);
  }

  step(4, 'Rotate app-user’s key with its own key (basic mode)');
  await rotate(appUserId, "app-user's key");
  await showKeys('app-user', appUserKey, await currentValue(appUserId));

  step(5, 'Rotate payments-svc’s key through rotator (privileged mode)');
  await rotate(paymentsId, "payments-svc's key");
  const paymentsNew = await currentValue(paymentsId);
  await showKeys('payments-svc', paymentsKey, paymentsNew);

  step(6, 'Change console-user’s console password through rotator’s key');
  await rotate(consoleId, "console-user's password");
  const stored = (await currentValue(consoleId)).password;
  const inAws = emulator.getPassword('console-user');
  if (!inAws || inAws !== stored) throw new Error('the password AWS has for console-user is not the one Keyturn stored');
  if (inAws === initialPassword) throw new Error('console-user still has its initial password');
  say(`console password of console-user changed: AWS now has a new ${inAws.length}-character password, the same one Keyturn stored (not shown)`);

  step(7, 'Heartbeats: check that the stored keys still work');
  async function heartbeat(secretId, label) {
    const h = await api('POST', `/v1/secrets/${secretId}/heartbeats`, undefined, 202);
    const done = await until(
      `heartbeat ${h.id} of ${label}`,
      async () => {
        const v = await api('GET', `/v1/heartbeats/${h.id}`);
        return v.status === 'done' ? v : null;
      },
      30_000,
    );
    say(`heartbeat of ${label}: ${done.outcome}${done.checkedArn ? ` (answered as ${done.checkedArn})` : ''}`);
    return done;
  }
  for (const [id, label] of [
    [appUserId, 'app-user'],
    [rotatorId, 'rotator'],
    [paymentsId, 'payments-svc'],
  ]) {
    const h = await heartbeat(id, label);
    if (h.outcome !== 'success') throw new Error(`the heartbeat of ${label} answered ${h.outcome}, expected success`);
  }
  const consoleHb = await fetch(`${apiUrl}/v1/secrets/${consoleId}/heartbeats`, { method: 'POST', headers: { authorization: `Bearer ${adminToken}` } });
  const consoleHbBody = await consoleHb.json();
  say(`a heartbeat for console-user's password answers ${consoleHb.status} ${consoleHbBody.code} (AWS cannot test a console password)`);

  step(8, 'Delete payments-svc’s key behind Keyturn’s back, then repair it');
  const heartbeatStatus = async (id) => (await api('GET', `/v1/secrets/${id}`)).heartbeatStatus;
  await iam.send(new DeleteAccessKeyCommand({ UserName: 'payments-svc', AccessKeyId: paymentsNew.accessKeyId }));
  const deletedAt = Date.now();
  say(`deleted payments-svc's current key ${mask(paymentsNew.accessKeyId)} directly in IAM with the root credentials`);
  say('waiting for the scheduler’s next heartbeat (interval 10 s)…');
  await until('payments-svc heartbeat turning failed', async () => (await heartbeatStatus(paymentsId)) === 'failed', 45_000, 500);
  const { items } = await api('GET', `/v1/secrets/${paymentsId}/heartbeats`);
  const failed = items.find((h) => h.outcome === 'failed');
  say(
    `heartbeat of payments-svc: failed after ${seconds(Date.now() - deletedAt)} (trigger ${failed?.trigger ?? 'schedule'}` +
      `${failed?.errorCode ? `, ${failed.errorCode}` : ''}${failed?.errorMessage ? `: ${scrub(failed.errorMessage)}` : ''})`,
  );
  await rotate(paymentsId, "payments-svc's key");
  const repaired = await currentValue(paymentsId);
  const works = await whoAmI(repaired);
  if (works.arn !== userArn('payments-svc')) throw new Error(`payments-svc's repaired key does not work (${works.error})`);
  say(`new key ${mask(repaired.accessKeyId)} works; payments-svc's keys in IAM now: ${keysOf('payments-svc')}`);
  const again = await heartbeat(paymentsId, 'payments-svc');
  if (again.outcome !== 'success') throw new Error(`the heartbeat after the repair answered ${again.outcome}`);
  await until('payments-svc heartbeat status back to success', async () => (await heartbeatStatus(paymentsId)) === 'success', 20_000);
  say('payments-svc’s heartbeat status is success again');

  step(9, 'The audit trail');
  const events = [];
  let cursor = null;
  do {
    const page = await api('GET', `/v1/audit?limit=500${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
    events.push(...page.items);
    cursor = page.nextCursor;
  } while (cursor);
  const byAction = new Map();
  for (const e of events) byAction.set(e.action, (byAction.get(e.action) ?? 0) + 1);
  say(`audit trail: ${events.length} events`);
  for (const [action, n] of [...byAction].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))) say(`  ${String(n).padStart(3)} × ${action}`);

  out();
  out(`all steps passed in ${seconds(Date.now() - started)}`);
}

// ---------------------------------------------------------------- teardown

let cleaned = false;
async function cleanup() {
  if (cleaned) return;
  cleaned = true;
  state.stopping = true;
  currentStep = 'stop';
  out();
  out('== Stop everything');
  const exits = [...state.apps.values()].map(
    (child) =>
      new Promise((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
        // An app that ignores SIGTERM must not keep the demo (or the database) hostage.
        setTimeout(() => child.kill('SIGKILL'), 10_000).unref();
      }),
  );
  await Promise.all(exits);
  if (state.apps.size) say(`stopped ${[...state.apps.keys()].join(', ')}`);
  for (const c of state.sdkClients) c.destroy();
  if (state.emulator) {
    await state.emulator.close().catch(() => {});
    say('closed the IAM emulator');
  }
  if (state.dbName) {
    const admin = new pg.Client({ connectionString: PG_URL });
    try {
      await admin.connect();
      await admin.query(`DROP DATABASE IF EXISTS ${state.dbName} WITH (FORCE)`);
      say(`dropped database ${state.dbName}`);
    } catch (e) {
      say(`could not drop database ${state.dbName}: ${scrub(e.message)}`);
    } finally {
      await admin.end().catch(() => {});
    }
  }
  if (state.queuePrefix) {
    const redis = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1, retryStrategy: () => null });
    redis.on('error', () => {});
    try {
      await redis.connect();
      let removed = 0;
      let cur = '0';
      do {
        const [next, keys] = await redis.scan(cur, 'MATCH', `${state.queuePrefix}:*`, 'COUNT', 1000);
        if (keys.length) removed += await redis.del(...keys);
        cur = next;
      } while (cur !== '0');
      say(`removed ${removed} Redis keys under ${state.queuePrefix}`);
    } catch (e) {
      say(`could not clean Redis prefix ${state.queuePrefix}: ${scrub(e.message)}`);
    } finally {
      redis.disconnect();
    }
  }
  if (state.logFd !== null) closeSync(state.logFd);
  if (state.logFile) say(`app logs kept in ${state.logFile}`);
}

async function finish(code, message) {
  // Whatever happens in cleanup, the demo ends.
  setTimeout(() => {
    process.stderr.write('demo: cleanup took too long; exiting anyway\n');
    process.exit(code || 1);
  }, 30_000).unref();
  try {
    await cleanup();
  } catch (e) {
    process.stderr.write(`demo: cleanup failed: ${scrub(e.message)}\n`);
  }
  out();
  if (code === 0) out('demo: done');
  else process.stderr.write(`${message}\n`);
  process.exit(code);
}

let ending = false;
function fail(code, message) {
  if (ending) return;
  ending = true;
  void finish(code, message);
}

process.on('SIGINT', () => fail(130, 'demo: interrupted; everything it started has been stopped'));
process.on('SIGTERM', () => fail(143, 'demo: terminated; everything it started has been stopped'));
setTimeout(() => fail(1, `demo: FAILED during "${currentStep}": the demo did not finish within ${DEADLINE_MS / 1000} s`), DEADLINE_MS);

// An app that dies ends the tour at once, with its name, instead of as a later timeout.
Promise.race([run(), appDeath]).then(
  () => {
    if (ending) return;
    ending = true;
    void finish(0);
  },
  (e) => fail(1, `demo: FAILED during "${currentStep}": ${scrub(e?.message ?? e)}`),
);
