/**
 * Issue 16: a newcomer's first `npm start`. Every start-up failure is one line
 * that names the service, the setting (host:port, never a password) and the
 * fix, with a distinct exit code and no stack trace; `npm start` stops the other
 * apps and repeats the first failure as its last line. A normal start ends with
 * a short banner that says what to do next.
 *
 * These run `npm start -- --no-build` (the e2e run builds first) with the
 * environment a person would have: NODE_ENV unset, so development defaults apply.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { generateMasterKey } from '@keyturn/crypto';
import { generateToken } from '@keyturn/auth';
import { PG_ADMIN_URL, REDIS_URL, createTestEnv, dropDatabase, eventually, freePort, spawnApp, type TestEnv } from './harness.js';
import { OwnRedis } from './own-redis.js';

const ROOT = new URL('../../', import.meta.url).pathname;
const COMPOSE_FIX = 'docker compose -f docker/compose.yml up -d postgres redis';
const ADMIN_KEY_COMMAND = 'npm run cli -- api-keys create --role admin --name me';
/**
 * A stack frame: printed raw ("    at f (file:1:2)"), behind npm start's
 * "worker    | " prefix, or inside a JSON log line ("\n    at ").
 */
const STACK_FRAME = /(^|\\n)([\w-]+ *\| )?\s+at .+:\d+:\d+\)?/m;

interface StartRun {
  child: ChildProcess;
  stdout(): string;
  stderr(): string;
  all(): string;
  waitFor(re: RegExp, timeoutMs?: number): Promise<void>;
  /** The exit code, waiting at most `timeoutMs`; a run still going by then is killed and the test fails. */
  exit(timeoutMs: number): Promise<number | null>;
  /** The signal that ended npm itself, once it has exited. */
  signal(): NodeJS.Signals | null;
}

/**
 * The environment of a person's shell: nothing of Keyturn's set unless the test
 * says so (the jest process may carry variables of its own).
 */
function personEnv(overrides: Record<string, string>): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (v === undefined || /^(KEYTURN_|DATABASE_URL$|REDIS_URL$|PORT$|HOST$|LOG_LEVEL$|NODE_ENV$|AWS_|WORKER_OPS_PORT$|SCHEDULER_OPS_PORT$)/.test(k)) continue;
    env[k] = v;
  }
  // Ops listeners on ports the system picks, unless a test names them: other test files run npm start at the same time.
  return { ...env, WORKER_OPS_PORT: '0', SCHEDULER_OPS_PORT: '0', ...overrides };
}

const running: ChildProcess[] = [];

/**
 * npm start runs in its own process group, as in a terminal: Ctrl-C reaches
 * every process of the group, and cleanup ends the whole group, so no app
 * outlives the test even when npm start itself is killed.
 */
function signalGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  try {
    process.kill(-child.pid!, signal);
  } catch (e) {
    if ((e as { code?: string }).code !== 'ESRCH') throw e;
  }
}

function groupAlive(child: ChildProcess): boolean {
  try {
    process.kill(-child.pid!, 0);
    return true;
  } catch (e) {
    if ((e as { code?: string }).code === 'ESRCH') return false;
    throw e;
  }
}

function killAll(): void {
  for (const c of running.splice(0)) signalGroup(c, 'SIGKILL');
}

function npmStart(env: Record<string, string>, opts: { nodeArgs?: string[] } = {}): StartRun {
  // `npm start` itself, as a person types it; --no-build because the e2e run has built dist/ already.
  // A faked Node version (nodeArgs) needs the script run directly: npm would run it under the real one.
  const child = opts.nodeArgs
    ? spawn(process.execPath, [...opts.nodeArgs, 'scripts/start.mjs', '--no-build'], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true })
    : spawn('npm', ['start', '--', '--no-build'], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  running.push(child);
  let out = '';
  let err = '';
  let all = '';
  const waiters: { re: RegExp; resolve: () => void }[] = [];
  const seen = () => {
    for (const w of [...waiters]) {
      if (w.re.test(all)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve();
      }
    }
  };
  child.stdout!.on('data', (c: Buffer) => ((out += c.toString()), (all += c.toString()), seen()));
  child.stderr!.on('data', (c: Buffer) => ((err += c.toString()), (all += c.toString()), seen()));
  let endedBy: NodeJS.Signals | null = null;
  const closed = new Promise<number | null>((resolve) => child.once('close', (code, signal) => ((endedBy = signal), resolve(code))));
  return {
    child,
    signal: () => endedBy,
    stdout: () => out,
    stderr: () => err,
    all: () => all,
    waitFor: (re, timeoutMs = 60_000) =>
      new Promise<void>((resolve, reject) => {
        if (re.test(all)) return resolve();
        const timer = setTimeout(() => reject(new Error(`npm start: no ${re} within ${timeoutMs} ms; output:\n${all.slice(-4000)}`)), timeoutMs);
        waiters.push({ re, resolve: () => (clearTimeout(timer), resolve()) });
        void closed.then((code) => {
          clearTimeout(timer);
          reject(new Error(`npm start exited (${code}) before ${re}; output:\n${all.slice(-4000)}`));
        });
      }),
    exit: (timeoutMs) =>
      new Promise<number | null>((resolve, reject) => {
        const timer = setTimeout(() => {
          signalGroup(child, 'SIGKILL');
          reject(new Error(`npm start still running after ${timeoutMs} ms; output:\n${all.slice(-4000)}`));
        }, timeoutMs);
        void closed.then((code) => (clearTimeout(timer), resolve(code)));
      }),
  };
}

/** The last line a person sees. */
const lastLine = (text: string) => text.trimEnd().split('\n').pop() ?? '';

/** A port nobody listens on: free a moment ago, and nothing in this test binds it. */
const closedPort = freePort;

/** Checks shared by every failure: exit code, the failure repeated as the last line, no stack, no password. */
function expectOneLineFailure(run: StartRun, code: number | null, expected: { code: number; line: RegExp; secret?: string }): void {
  const context = `\n--- output ---\n${run.all()}`;
  if (code !== expected.code) throw new Error(`exit code ${code}, expected ${expected.code}${context}`);
  const last = lastLine(run.stderr());
  expect(last).toMatch(expected.line);
  // The app printed the same line itself (prefixed with its name by npm start) before npm start repeated it.
  expect(run.stderr().split('\n').filter((l) => l.endsWith(last)).length).toBeGreaterThanOrEqual(2);
  expect(run.all()).not.toMatch(STACK_FRAME);
  if (expected.secret) expect(run.all()).not.toContain(expected.secret);
}

describe('npm start: start-up failures say what to do', () => {
  let dir: string;
  let t: TestEnv;
  /** What a person's shell has, pointed at this test's own database, queue prefix, port and key file. */
  let base: () => Promise<Record<string, string>>;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'kt-first-run-'));
    t = await createTestEnv();
    base = async () =>
      personEnv({
        DATABASE_URL: t.databaseUrl,
        REDIS_URL,
        KEYTURN_QUEUE_PREFIX: `kt-${t.name}`,
        KEYTURN_MASTER_KEY_FILE: join(dir, 'master.key'),
        PORT: String(await freePort()),
      });
  });
  afterEach(killAll);
  afterAll(async () => {
    await t?.drop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('Postgres not running: exit 69 within 30 s, naming Postgres, host:port, DATABASE_URL and the fix; no password, no stack', async () => {
    const port = await closedPort();
    const run = npmStart({ ...(await base()), DATABASE_URL: `postgres://postgres:pg-Pa55word-x@127.0.0.1:${port}/keyturn` });
    expectOneLineFailure(run, await run.exit(30_000), {
      code: 69,
      line: new RegExp(
        `^keyturn: \\S+ cannot start: Postgres at 127\\.0\\.0\\.1:${port} \\(DATABASE_URL\\) is not reachable: connection refused\\. ` +
          `Start Postgres \\(for development: ${COMPOSE_FIX}\\) or set DATABASE_URL to a server that runs\\.$`,
      ),
      secret: 'pg-Pa55word-x',
    });
  });

  it('with LOG_LEVEL=debug the same failure also prints its stack trace', async () => {
    const port = await closedPort();
    const run = npmStart({ ...(await base()), LOG_LEVEL: 'debug', DATABASE_URL: `postgres://postgres@127.0.0.1:${port}/keyturn` });
    const code = await run.exit(30_000);
    expect(code).toBe(69);
    expect(lastLine(run.stderr())).toMatch(/Postgres at 127\.0\.0\.1:\d+ \(DATABASE_URL\) is not reachable/);
    expect(run.stderr()).toMatch(STACK_FRAME);
  });

  it('Redis not running: exit 69, naming Redis, host:port, REDIS_URL and the fix; no password, no stack', async () => {
    const port = await closedPort();
    const run = npmStart({ ...(await base()), REDIS_URL: `redis://:redis-Pa55word-y@127.0.0.1:${port}` });
    expectOneLineFailure(run, await run.exit(30_000), {
      code: 69,
      line: new RegExp(
        `^keyturn: (rotation-worker|heartbeat-scheduler) cannot start: Redis at 127\\.0\\.0\\.1:${port} \\(REDIS_URL\\) is not reachable: connection refused\\. ` +
          `Start Redis \\(for development: ${COMPOSE_FIX}\\) or set REDIS_URL to a server that runs\\.$`,
      ),
      secret: 'redis-Pa55word-y',
    });
  });

  it('the API port taken: exit 69, naming the port, HOST/PORT and the fix', async () => {
    const env = await base();
    const holder: Server = createServer();
    await new Promise<void>((resolve) => holder.listen(Number(env.PORT), '127.0.0.1', resolve));
    try {
      const run = npmStart(env);
      expectOneLineFailure(run, await run.exit(30_000), {
        code: 69,
        line: new RegExp(
          `^keyturn: secrets-api cannot start: port ${env.PORT} on 127\\.0\\.0\\.1 \\(HOST, PORT\\) is already in use\\. ` +
            'Stop the program that listens there, or set PORT to a free port\\.$',
        ),
      });
    } finally {
      await new Promise((r) => holder.close(r));
    }
  });

  it("the worker's ops port taken: exit 69, naming the port, HOST/WORKER_OPS_PORT and the fix", async () => {
    const env = { ...(await base()), WORKER_OPS_PORT: String(await freePort()) };
    const holder: Server = createServer();
    await new Promise<void>((resolve) => holder.listen(Number(env.WORKER_OPS_PORT), '127.0.0.1', resolve));
    try {
      const run = npmStart(env);
      expectOneLineFailure(run, await run.exit(30_000), {
        code: 69,
        line: new RegExp(
          `^keyturn: rotation-worker cannot start: port ${env.WORKER_OPS_PORT} on 127\\.0\\.0\\.1 \\(HOST, WORKER_OPS_PORT\\) is already in use\\. ` +
            'Stop the program that listens there, or set WORKER_OPS_PORT to a free port\\.$',
        ),
      });
    } finally {
      await new Promise((r) => holder.close(r));
    }
  });

  it('a Postgres user that does not exist: exit 77, naming the user and the setting', async () => {
    const run = npmStart({ ...(await base()), DATABASE_URL: `postgres://kt_nobody_${randomBytes(3).toString('hex')}@${new URL(PG_ADMIN_URL).host}/keyturn` });
    expectOneLineFailure(run, await run.exit(30_000), {
      code: 77,
      line: new RegExp(
        `^keyturn: \\S+ cannot start: Postgres at ${new URL(PG_ADMIN_URL).host.replace(/\./g, '\\.')} \\(DATABASE_URL\\) refused user "kt_nobody_\\w+": ` +
          'role "kt_nobody_\\w+" does not exist\\. Set DATABASE_URL to a user and password that Postgres accepts\\.$',
      ),
    });
  });

  it('a wrong Postgres password: exit 77, without the password', async () => {
    // A stand-in server that refuses every login the way Postgres does (ErrorResponse 28P01).
    const fake = await refusingPostgres();
    try {
      const run = npmStart({ ...(await base()), DATABASE_URL: `postgres://postgres:wrong-Pa55-z@127.0.0.1:${fake.port}/keyturn` });
      expectOneLineFailure(run, await run.exit(30_000), {
        code: 77,
        line: new RegExp(
          `^keyturn: \\S+ cannot start: Postgres at 127\\.0\\.0\\.1:${fake.port} \\(DATABASE_URL\\) refused user "postgres": ` +
            'password authentication failed for user "postgres"\\. Set DATABASE_URL to a user and password that Postgres accepts\\.$',
        ),
        secret: 'wrong-Pa55-z',
      });
    } finally {
      await fake.close();
    }
  });

  it('the database missing with KEYTURN_CREATE_DATABASE=false: exit 69, naming the database and both fixes', async () => {
    const name = `keyturn_e2e_missing_${randomBytes(3).toString('hex')}`;
    const url = new URL(PG_ADMIN_URL);
    url.pathname = `/${name}`;
    const run = npmStart({ ...(await base()), DATABASE_URL: url.toString(), KEYTURN_CREATE_DATABASE: 'false' });
    expectOneLineFailure(run, await run.exit(30_000), {
      code: 69,
      line: new RegExp(
        `^keyturn: \\S+ cannot start: database "${name}" does not exist on Postgres at ${url.host.replace(/\./g, '\\.')} \\(DATABASE_URL\\)\\. ` +
          `Create it \\(createdb -h ${url.hostname.replace(/\./g, '\\.')} -p ${url.port || 5432} -U postgres ${name}\\), set KEYTURN_CREATE_DATABASE=true, or set DATABASE_URL to a database that exists\\.$`,
      ),
    });
  });

  it('the database missing and the user may not create it: exit 77, naming the user and the fix', async () => {
    const role = `kt_e2e_nocreatedb_${randomBytes(3).toString('hex')}`;
    const name = `keyturn_e2e_missing_${randomBytes(3).toString('hex')}`;
    const admin = new pg.Client({ connectionString: PG_ADMIN_URL });
    await admin.connect();
    await admin.query(`CREATE ROLE ${role} LOGIN NOCREATEDB`);
    try {
      const url = new URL(PG_ADMIN_URL);
      url.username = role;
      url.pathname = `/${name}`;
      const run = npmStart({ ...(await base()), DATABASE_URL: url.toString() });
      expectOneLineFailure(run, await run.exit(30_000), {
        code: 77,
        line: new RegExp(
          `^keyturn: \\S+ cannot start: database "${name}" does not exist on Postgres at ${url.host.replace(/\./g, '\\.')} \\(DATABASE_URL\\), ` +
            `and user "${role}" may not create it: permission denied to create database\\. ` +
            `Create it as a user who may \\(createdb -h ${url.hostname.replace(/\./g, '\\.')} -p ${url.port || 5432} -O ${role} ${name}\\), or let this user create databases \\(ALTER ROLE ${role} CREATEDB\\)\\.$`,
        ),
      });
    } finally {
      await dropDatabase(name);
      await admin.query(`DROP ROLE IF EXISTS ${role}`);
      await admin.end();
    }
  });

  it('Redis asks for a password that REDIS_URL does not have: exit 77', async () => {
    const redis = await OwnRedis.start(['--requirepass', `rp-${randomBytes(8).toString('hex')}`]);
    try {
      const run = npmStart({ ...(await base()), REDIS_URL: `redis://127.0.0.1:${redis.port}` });
      expectOneLineFailure(run, await run.exit(30_000), {
        code: 77,
        // A refused password stops the API too (Redis merely down does not): whichever of the three asks first says it.
        line: new RegExp(
          `^keyturn: (secrets-api|rotation-worker|heartbeat-scheduler) cannot start: Redis at 127\\.0\\.0\\.1:${redis.port} \\(REDIS_URL\\) refused the connection: ` +
            `NOAUTH Authentication required\\. Put the password in REDIS_URL \\(redis://:<password>@127\\.0\\.0\\.1:${redis.port}\\)\\.$`,
        ),
      });
    } finally {
      await redis.stop();
    }
  });

  it('a wrong Redis password: exit 77, without the password', async () => {
    const redis = await OwnRedis.start(['--requirepass', `rp-${randomBytes(8).toString('hex')}`]);
    try {
      const run = npmStart({ ...(await base()), REDIS_URL: `redis://:wrong-Redis-Pa55@127.0.0.1:${redis.port}` });
      expectOneLineFailure(run, await run.exit(30_000), {
        code: 77,
        // As above: the API, the worker or the scheduler, whichever asks Redis first.
        line: new RegExp(
          `^keyturn: (secrets-api|rotation-worker|heartbeat-scheduler) cannot start: Redis at 127\\.0\\.0\\.1:${redis.port} \\(REDIS_URL\\) refused the connection: ` +
            `WRONGPASS invalid username-password pair or user is disabled\\. Put the right password in REDIS_URL \\(redis://:<password>@127\\.0\\.0\\.1:${redis.port}\\)\\.$`,
        ),
        secret: 'wrong-Redis-Pa55',
      });
    } finally {
      await redis.stop();
    }
  });

  it('an invalid variable: exit 78, and the list of problems repeated last', async () => {
    const run = npmStart({ ...(await base()), PORT: 'eighty' });
    const code = await run.exit(30_000);
    if (code !== 78) throw new Error(`exit code ${code}, expected 78\n${run.all()}`);
    expect(run.stderr().trimEnd().split('\n').slice(-2)).toEqual(['keyturn: Invalid configuration:', '  - PORT: Invalid input: expected number, received NaN']);
    expect(run.all()).not.toMatch(STACK_FRAME);
  });

  it('the API alone starts without Redis (its degraded mode), warning in one line; a refused Redis password stops it with 77', async () => {
    const env = await base();
    const closed = await closedPort();
    const api = spawnApp('secrets-api', { ...env, REDIS_URL: `redis://127.0.0.1:${closed}`, SPAWN_LOG_LEVEL: 'info' });
    try {
      await api.waitFor(/listening on/);
      expect(api.output()).toContain(
        `Redis at 127.0.0.1:${closed} (REDIS_URL) is not reachable: connection refused. Start Redis (for development: ${COMPOSE_FIX}) or set REDIS_URL to a server that runs. ` +
          'Until then the API serves reads',
      );
    } finally {
      await api.kill('SIGKILL');
    }

    const redis = await OwnRedis.start(['--requirepass', `rp-${randomBytes(8).toString('hex')}`]);
    try {
      const refused = spawnApp('secrets-api', { ...env, REDIS_URL: `redis://:wrong-Pa55@127.0.0.1:${redis.port}` });
      const code = await new Promise<number | null>((resolve) => refused.child.once('exit', resolve));
      expect(code).toBe(77);
      expect(refused.output()).toMatch(/^keyturn: secrets-api cannot start: Redis at 127\.0\.0\.1:\d+ \(REDIS_URL\) refused the connection: WRONGPASS /m);
      expect(refused.output()).not.toContain('wrong-Pa55');
    } finally {
      await redis.stop();
    }
  });

  it('npm run cli: Postgres not running gives the same line and exit 69', async () => {
    const port = await closedPort();
    const cli = spawn(process.execPath, ['dist/apps/cli/src/main.js', 'api-keys', 'create', '--role', 'admin', '--name', 'me'], {
      cwd: ROOT,
      env: personEnv({ DATABASE_URL: `postgres://postgres@127.0.0.1:${port}/keyturn` }),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let err = '';
    cli.stderr.on('data', (c: Buffer) => (err += c.toString()));
    const code = await new Promise<number | null>((resolve) => cli.once('close', resolve));
    expect([code, err]).toEqual([
      69,
      `keyturn: Postgres at 127.0.0.1:${port} (DATABASE_URL) is not reachable: connection refused. Start Postgres (for development: ${COMPOSE_FIX}) or set DATABASE_URL to a server that runs.\n`,
    ]);
  });

  it('npm start before npm ci: one line that says to run npm ci, before anything else', async () => {
    // A checkout without node_modules: the script and package.json alone.
    const checkout = mkdtempSync(join(tmpdir(), 'kt-no-deps-'));
    try {
      mkdirSync(join(checkout, 'scripts'));
      copyFileSync(join(ROOT, 'scripts/start.mjs'), join(checkout, 'scripts/start.mjs'));
      copyFileSync(join(ROOT, 'package.json'), join(checkout, 'package.json'));
      const child = spawn(process.execPath, ['scripts/start.mjs'], { cwd: checkout, env: personEnv({}), stdio: ['ignore', 'pipe', 'pipe'] });
      let all = '';
      child.stdout.on('data', (c: Buffer) => (all += c.toString()));
      child.stderr.on('data', (c: Buffer) => (all += c.toString()));
      const code = await new Promise<number | null>((resolve) => child.once('close', resolve));
      expect([code, all]).toEqual([1, 'keyturn: cannot start: the dependencies are not installed. Run npm ci, then npm start again.\n']);
    } finally {
      rmSync(checkout, { recursive: true, force: true });
    }
  });

  it('Node older than the engines field: exit 70 before building, naming both versions and the fix', async () => {
    const engines = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { engines: { node: string } }).engines.node;
    // The process reports an old version, as an old Node would; nothing else about it changes.
    const fakeOld = 'data:text/javascript,Object.defineProperty(process.versions,"node",{value:"20.0.0"});Object.defineProperty(process,"version",{value:"v20.0.0"})';
    const run = npmStart(await base(), { nodeArgs: ['--import', fakeOld] });
    const code = await run.exit(30_000);
    if (code !== 70) throw new Error(`exit code ${code}, expected 70\n${run.all()}`);
    expect(run.all().trim()).toBe(
      `keyturn: cannot start: Node.js 20.0.0 is older than Keyturn needs (${engines}, the engines field in package.json). ` +
        'Install a newer Node.js (for example: nvm install 20) and run npm start again.',
    );
  });
});

describe('npm start: the ready banner', () => {
  let dir: string;
  let t: TestEnv;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'kt-first-run-'));
    // An empty database, as on a fresh machine: npm start applies the migrations itself.
    t = await createTestEnv();
  });
  afterEach(killAll);
  afterAll(async () => {
    await t?.drop();
    rmSync(dir, { recursive: true, force: true });
  });

  /** Ctrl-C in a terminal: SIGINT to every process in the foreground group. All of them end, and no app died on its own. */
  const stopWithCtrlC = async (run: StartRun) => {
    signalGroup(run.child, 'SIGINT');
    // npm ends itself with the signal it got once its script has exited, as a shell expects of Ctrl-C.
    expect([await run.exit(30_000), run.signal()]).toEqual([null, 'SIGINT']);
    await eventually(async () => !groupAlive(run.child), 30_000);
    expect(run.all()).not.toMatch(/stopping the others|cannot start/);
  };

  it('a fresh start: the URLs, no admin key yet with the command to create one, the development key file and its warning', async () => {
    const [port, workerOps, schedulerOps] = [await freePort(), await freePort(), await freePort()];
    const keyFile = join(dir, 'master.key');
    const run = npmStart(
      personEnv({
        DATABASE_URL: t.databaseUrl,
        REDIS_URL,
        KEYTURN_QUEUE_PREFIX: `kt-${t.name}`,
        KEYTURN_MASTER_KEY_FILE: keyFile,
        PORT: String(port),
        WORKER_OPS_PORT: String(workerOps),
        SCHEDULER_OPS_PORT: String(schedulerOps),
      }),
    );
    await run.waitFor(/Ctrl-C stops all three/);
    const out = run.stdout();
    const url = `http://127.0.0.1:${port}`;
    expect(out).toContain(`API        ${url}\n`);
    expect(out).toContain(`API docs   ${url}/docs\n`);
    expect(out).toContain(`ops        ${url}/health/live  ${url}/health/ready  ${url}/metrics\n`);
    for (const [name, p] of [['worker', workerOps], ['scheduler', schedulerOps]] as const) {
      const ops = `http://127.0.0.1:${p}`;
      expect(out).toContain(`${name.padEnd(10)} ${ops}/health/live  ${ops}/health/ready  ${ops}/metrics\n`);
    }
    expect(out).toContain(`admin key  none yet; create one with: ${ADMIN_KEY_COMMAND}\n`);
    expect(out).toContain(
      `master key development key in ${keyFile}: anyone who can read that file can decrypt every secret. Set KEYTURN_MASTER_KEY in production.\n`,
    );
    // The apps' own ready lines stay (other tests and tools wait for them).
    expect(run.all()).toMatch(/listening on http:\/\/127\.0\.0\.1:\d+/);
    expect(run.all()).toMatch(/ready: connected/);
    // Route mappings, module wiring and each migration are debug chatter now.
    expect(run.all()).not.toMatch(/Mapped \{|RoutesResolver|dependencies initialized|applied migration \w+/);
    await stopWithCtrlC(run);
  });

  it('with an admin key and KEYTURN_MASTER_KEY set: the banner says so and shows no command', async () => {
    const port = await freePort();
    const run = npmStart(
      personEnv({
        DATABASE_URL: t.databaseUrl,
        REDIS_URL,
        KEYTURN_QUEUE_PREFIX: `kt-${t.name}`,
        KEYTURN_MASTER_KEY: generateMasterKey(),
        KEYTURN_BOOTSTRAP_ADMIN_TOKEN: generateToken(),
        PORT: String(port),
      }),
    );
    await run.waitFor(/Ctrl-C stops all three/);
    const out = run.stdout();
    expect(out).toContain(`API docs   http://127.0.0.1:${port}/docs\n`);
    expect(out).toContain('admin key  an admin API key exists\n');
    expect(out).toContain('master key from KEYTURN_MASTER_KEY\n');
    expect(out).not.toContain(ADMIN_KEY_COMMAND);
    await stopWithCtrlC(run);
  });
});

/**
 * A TCP server that answers every Postgres start-up message with the error a
 * real server sends after a wrong password: FATAL 28P01.
 */
async function refusingPostgres(): Promise<{ port: number; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    let buf = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      if (buf.length < 8) return;
      const len = buf.readInt32BE(0);
      if (buf.length < len) return;
      const code = buf.readInt32BE(4);
      buf = buf.subarray(len);
      // SSLRequest: "no TLS here", then the client sends its start-up message.
      if (code === 80877103) return void socket.write('N');
      const fields = Buffer.concat(
        [
          ['S', 'FATAL'],
          ['V', 'FATAL'],
          ['C', '28P01'],
          ['M', 'password authentication failed for user "postgres"'],
        ].map(([k, v]) => Buffer.from(`${k}${v}\0`)),
      );
      const body = Buffer.concat([fields, Buffer.from([0])]);
      const head = Buffer.alloc(5);
      head.write('E', 0);
      head.writeInt32BE(body.length + 4, 1);
      socket.end(Buffer.concat([head, body]));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const addr = server.address();
  return {
    port: typeof addr === 'object' && addr ? addr.port : 0,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
