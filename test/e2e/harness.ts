/**
 * Whole-system test harness: each test file gets its own Postgres database
 * and its own Redis key prefix, so runs (and files) never see each other's data.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { Redis } from 'ioredis';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { loadConfig, type KeyturnConfig } from '@keyturn/config';
import { generateMasterKey } from '@keyturn/crypto';
import { generateToken } from '@keyturn/auth';
import type { Role } from '@keyturn/contracts';
import { createApi } from '../../apps/secrets-api/src/bootstrap.js';
import { checkResponse } from './openapi-check.js';

export { checkedFetch } from './openapi-check.js';

export const PG_ADMIN_URL = process.env.E2E_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
export const REDIS_URL = process.env.E2E_REDIS_URL ?? 'redis://127.0.0.1:6379';

export interface TestEnv {
  name: string;
  databaseUrl: string;
  env: Record<string, string>;
  config: KeyturnConfig;
  adminToken: string;
  drop(): Promise<void>;
}

/** A fresh database and queue prefix, and the environment that points Keyturn at them. */
export async function createTestEnv(extra: Record<string, string> = {}): Promise<TestEnv> {
  const name = `keyturn_e2e_${Date.now().toString(36)}_${randomBytes(3).toString('hex')}`;
  const admin = new pg.Client({ connectionString: PG_ADMIN_URL });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const databaseUrl = new URL(PG_ADMIN_URL);
  databaseUrl.pathname = `/${name}`;
  const adminToken = generateToken();
  const env: Record<string, string> = {
    NODE_ENV: 'test',
    LOG_LEVEL: process.env.E2E_LOG_LEVEL ?? 'warn',
    DATABASE_URL: databaseUrl.toString(),
    REDIS_URL,
    KEYTURN_QUEUE_PREFIX: `kt-${name}`,
    KEYTURN_MASTER_KEY: generateMasterKey(),
    KEYTURN_BOOTSTRAP_ADMIN_TOKEN: adminToken,
    PORT: '0',
    // Ops listeners on ports the system picks: test files run side by side, each with its own processes.
    WORKER_OPS_PORT: '0',
    SCHEDULER_OPS_PORT: '0',
    ...extra,
  };
  return {
    name,
    databaseUrl: env.DATABASE_URL,
    env,
    config: loadConfig(env),
    adminToken,
    drop: async () => {
      await dropDatabase(name);
      // A suite that runs its own redis-server throws that one away itself.
      if (env.REDIS_URL === REDIS_URL) await dropRedisPrefix(REDIS_URL, env.KEYTURN_QUEUE_PREFIX);
    },
  };
}

/**
 * Deletes every key of a test's queue prefix, so runs do not pile up jobs and buckets in the machine's
 * shared Redis (it keeps nothing on disk, but it keeps everything in memory until restarted).
 */
export async function dropRedisPrefix(url: string, prefix: string): Promise<void> {
  const redis = new Redis(url, { maxRetriesPerRequest: 1, lazyConnect: true, retryStrategy: () => null });
  try {
    await redis.connect();
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length) await redis.unlink(...keys);
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
}

export async function dropDatabase(name: string): Promise<void> {
  const admin = new pg.Client({ connectionString: PG_ADMIN_URL });
  await admin.connect();
  try {
    await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  } finally {
    await admin.end();
  }
}

/** A plain pg client on the test database, for checking raw rows. */
export async function rawDb(t: TestEnv): Promise<pg.Client> {
  const c = new pg.Client({ connectionString: t.databaseUrl });
  await c.connect();
  return c;
}

export interface RunningApi {
  url: string;
  app: NestFastifyApplication;
  close(): Promise<void>;
}

/** The real secrets API, in this process, on an ephemeral port. */
export async function startApi(t: TestEnv): Promise<RunningApi> {
  const app = await createApi(t.config, { docs: false });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const addr = app.getHttpServer().address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;
  return { url: `http://127.0.0.1:${port}`, app, close: () => app.close() };
}

export interface ApiResponse<T = any> {
  status: number;
  body: T;
  headers: Headers;
}

/**
 * A tiny JSON client; `raw` sends a body string as-is (for malformed-input tests).
 * Every answer is checked against the OpenAPI document; a mismatch throws.
 */
export function client(baseUrl: string, token?: string) {
  const call = async <T = any>(
    method: string,
    path: string,
    opts: { json?: unknown; raw?: string; headers?: Record<string, string>; token?: string | null } = {},
  ): Promise<ApiResponse<T>> => {
    const headers: Record<string, string> = { ...(opts.headers ?? {}) };
    const tok = opts.token === undefined ? token : opts.token;
    if (tok) headers.authorization = `Bearer ${tok}`;
    let body: string | undefined;
    if (opts.json !== undefined) {
      body = JSON.stringify(opts.json);
      headers['content-type'] ??= 'application/json';
    } else if (opts.raw !== undefined) {
      body = opts.raw;
      headers['content-type'] ??= 'application/json';
    }
    const res = await fetch(baseUrl + path, { method, headers, body });
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      /* not JSON: keep the text */
    }
    // Every answer must be one the OpenAPI document promises (test/e2e/openapi-check.ts).
    await checkResponse({ method, url: path, status: res.status, contentType: res.headers.get('content-type'), body: parsed });
    return { status: res.status, body: parsed as T, headers: res.headers };
  };
  return {
    call,
    get: <T = any>(p: string, o?: Parameters<typeof call>[2]) => call<T>('GET', p, o),
    post: <T = any>(p: string, json?: unknown, o?: Parameters<typeof call>[2]) => call<T>('POST', p, { ...o, json }),
    patch: <T = any>(p: string, json?: unknown, o?: Parameters<typeof call>[2]) => call<T>('PATCH', p, { ...o, json }),
    put: <T = any>(p: string, json?: unknown, o?: Parameters<typeof call>[2]) => call<T>('PUT', p, { ...o, json }),
    del: <T = any>(p: string, o?: Parameters<typeof call>[2]) => call<T>('DELETE', p, o),
  };
}
export type Client = ReturnType<typeof client>;

/** Valid-looking key material (the API checks shape only; the IAM tests use the emulator's real keys). */
export function fakeKey(): { accessKeyId: string; secretAccessKey: string } {
  const up = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  const pick = (n: number, alphabet: string) =>
    Array.from(randomBytes(n), (b) => alphabet[b % alphabet.length]).join('');
  return {
    accessKeyId: 'AKIA' + pick(16, up),
    secretAccessKey: pick(40, 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789/+'),
  };
}

export interface SpawnedApp {
  child: ChildProcess;
  output(): string;
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<void>;
  kill(signal?: NodeJS.Signals): Promise<number | null>;
}

const APP_ENTRY: Record<string, string> = {
  'secrets-api': 'dist/apps/secrets-api/src/main.js',
  'rotation-worker': 'dist/apps/rotation-worker/src/main.js',
  'heartbeat-scheduler': 'dist/apps/heartbeat-scheduler/src/main.js',
};

/** Runs a built app (npm test builds first) as its own process, as in production. */
export function spawnApp(app: keyof typeof APP_ENTRY, env: Record<string, string>): SpawnedApp {
  const child = spawn(process.execPath, [APP_ENTRY[app]], {
    cwd: new URL('../../', import.meta.url).pathname,
    // Spawned apps log at info: tests wait for their "ready" lines. Their output is kept, not printed.
    // Ops listeners default to ports the system picks (each app logs its URLs), so parallel files never clash on 8081/8082.
    env: { PATH: process.env.PATH ?? '', WORKER_OPS_PORT: '0', SCHEDULER_OPS_PORT: '0', ...env, LOG_LEVEL: env.SPAWN_LOG_LEVEL ?? 'info' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const waiters: { re: RegExp; resolve: () => void }[] = [];
  const onData = (chunk: Buffer) => {
    out += chunk.toString();
    for (const w of [...waiters]) {
      if (w.re.test(out)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve();
      }
    }
  };
  child.stdout!.on('data', onData);
  child.stderr!.on('data', onData);
  return {
    child,
    output: () => out,
    waitFor: (re, timeoutMs = 30_000) =>
      new Promise<void>((resolve, reject) => {
        if (re.test(out)) return resolve();
        const timer = setTimeout(() => reject(new Error(`${app}: no ${re} within ${timeoutMs} ms; output:\n${out.slice(-3000)}`)), timeoutMs);
        waiters.push({ re, resolve: () => (clearTimeout(timer), resolve()) });
        child.once('exit', (code) => {
          clearTimeout(timer);
          reject(new Error(`${app} exited (${code}) before ${re}; output:\n${out.slice(-3000)}`));
        });
      }),
    kill: (signal = 'SIGTERM') =>
      new Promise((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve(child.exitCode);
        child.once('exit', (code) => resolve(code));
        child.kill(signal);
      }),
  };
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls `fn` until it returns a truthy value or the time runs out. */
export async function eventually<T>(fn: () => Promise<T | undefined | null | false>, timeoutMs = 30_000, everyMs = 200): Promise<T> {
  const end = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > end) throw new Error(`condition not met within ${timeoutMs} ms${last ? `: ${(last as Error).message}` : ''}`);
    await sleep(everyMs);
  }
}

export interface RouteInfo {
  method: string;
  url: string;
}

/**
 * Like startApi, but also returns every route the app registered, collected by
 * a fastify onRoute hook added before Nest registers its routes (at listen).
 */
export async function startApiWithRoutes(t: TestEnv): Promise<RunningApi & { routes: RouteInfo[] }> {
  const app = await createApi(t.config, { docs: false });
  const routes: RouteInfo[] = [];
  app.getHttpAdapter().getInstance().addHook('onRoute', (r) => {
    for (const method of Array.isArray(r.method) ? r.method : [r.method]) routes.push({ method: String(method).toUpperCase(), url: r.url });
  });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const addr = app.getHttpServer().address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;
  return { url: `http://127.0.0.1:${port}`, app, close: () => app.close(), routes };
}

/** Creates an API key through the API (as an admin) and returns its id and one-time token. */
export async function createApiKey(
  admin: Client,
  role: Role,
  opts: { name?: string; folderScopes?: string[]; headers?: Record<string, string> } = {},
): Promise<{ id: string; token: string }> {
  const res = await admin.post(
    '/v1/api-keys',
    { name: opts.name ?? `${role} ${randomBytes(3).toString('hex')}`, role, ...(opts.folderScopes ? { folderScopes: opts.folderScopes } : {}) },
    { headers: opts.headers },
  );
  if (res.status !== 201) throw new Error(`creating a ${role} API key answered ${res.status}: ${JSON.stringify(res.body)}`);
  return { id: res.body.apiKey.id, token: res.body.token };
}

/** A TCP port that was free a moment ago, for apps that must be told their port up front. */
export async function freePort(): Promise<number> {
  const { createServer } = await import('node:net');
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}
