#!/usr/bin/env node
// `npm start`: build once, then run the three apps side by side. Ctrl-C (or
// SIGTERM) stops all of them; if one dies, the others are stopped too, and the
// reason it gave is repeated as the last line, where a person looks first.
// Once all three are ready, a short banner says what to do next.
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

const ROOT = new URL('../', import.meta.url);
const APPS = [
  ['api', 'dist/apps/secrets-api/src/main.js'],
  ['worker', 'dist/apps/rotation-worker/src/main.js'],
  ['scheduler', 'dist/apps/heartbeat-scheduler/src/main.js'],
];
/** The lines each app prints once it serves (tests and tools wait for them too). */
const READY = {
  api: /listening on (http:\/\/[^\s"]+)/,
  worker: /ready: connected/,
  scheduler: /ready: connected/,
};
/**
 * Each app names its ops endpoints (health, metrics) before its ready line:
 * the API as paths on its own port, the worker and the scheduler as full URLs
 * of their ops listeners (WORKER_OPS_PORT, SCHEDULER_OPS_PORT).
 */
const OPS_LINE = /ops endpoints: ([^"]*)/;
const opsEndpoints = new Map();
const ADMIN_KEY_COMMAND = 'npm run cli -- api-keys create --role admin --name me';
/** sysexits EX_SOFTWARE; the apps' own codes are in libs/config/src/startup-errors.ts. */
const EXIT_NODE_TOO_OLD = 70;

// `npm start` right after cloning, before `npm ci`, would otherwise end in a module-resolution stack trace.
const semver = await import('semver').then(
  (m) => m.default,
  () => {
    process.stderr.write('keyturn: cannot start: the dependencies are not installed. Run npm ci, then npm start again.\n');
    process.exit(1);
  },
);

// An older Node fails later in ways that say nothing about the version (an ES
// module required from CommonJS, for one), so it is checked before anything runs.
const engines = JSON.parse(readFileSync(new URL('package.json', ROOT), 'utf8')).engines?.node;
if (engines && !semver.satisfies(process.versions.node, engines)) {
  const major = semver.minVersion(engines)?.major;
  const relation = semver.ltr(process.versions.node, engines) ? 'older than Keyturn needs' : 'not one Keyturn supports';
  process.stderr.write(
    `keyturn: cannot start: Node.js ${process.versions.node} is ${relation} (${engines}, the engines field in package.json). ` +
      `Install a newer Node.js (for example: nvm install ${major}) and run npm start again.\n`,
  );
  process.exit(EXIT_NODE_TOO_OLD);
}

if (!process.argv.includes('--no-build')) {
  process.stderr.write('keyturn: building…\n');
  const b = spawnSync('npx', ['nest', 'build', 'secrets-api'], { stdio: 'inherit' });
  if (b.status !== 0) process.exit(b.status ?? 1);
}

// The apps write JSON lines into the pipes below (the watchers read them); at a terminal in development,
// the lines are shown as pino-pretty shows them, as an app run by itself at a terminal would print them.
const prettyLine =
  process.env.NODE_ENV !== 'production' && process.stdout.isTTY
    ? await import('pino-pretty').then((m) => m.prettyFactory({ colorize: true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname,app' }))
    : undefined;

/** A JSON log line made readable (when prettyLine is on), anything else as it came. */
function shown(line) {
  if (!prettyLine || !line.startsWith('{')) return line;
  try {
    return prettyLine(JSON.parse(line)).replace(/\n$/, '');
  } catch {
    return line;
  }
}

const children = new Map();
const ready = new Map();
let stopping = false;
/** The first app that ended on its own: its name, exit code and the reason it printed. */
let firstFailure;

/**
 * An app that cannot start says why in a line starting "keyturn: " (an
 * invalid environment adds "  - " lines); the last such block is its reason.
 */
function reasonTracker() {
  let block = [];
  let open = false;
  return {
    see(line) {
      if (line.startsWith('keyturn: ')) {
        block = [line];
        open = true;
      } else if (open && line.startsWith('  - ')) {
        block.push(line);
      } else {
        open = false;
      }
    },
    reason: () => block.join('\n'),
  };
}

function prefixLines(name, stream, out, onLine) {
  let buf = '';
  stream.on('data', (chunk) => {
    buf += chunk;
    const lines = buf.split('\n');
    buf = lines.pop();
    for (const line of lines) {
      out.write(`${name.padEnd(9)} | ${shown(line)}\n`);
      onLine(line);
    }
  });
  stream.on('end', () => {
    if (!buf) return;
    out.write(`${name.padEnd(9)} | ${shown(buf)}\n`);
    onLine(buf);
  });
}

function stopAll(signal) {
  if (stopping) return;
  stopping = true;
  for (const child of children.values()) child.kill(signal);
  // A process that ignores SIGTERM is not allowed to hold the terminal forever.
  setTimeout(() => {
    for (const child of children.values()) child.kill('SIGKILL');
  }, 15_000).unref();
}

function onReady(name, detail) {
  if (ready.has(name)) return;
  ready.set(name, detail);
  if (ready.size === APPS.length && !stopping) {
    printBanner(ready.get('api')).catch((e) => process.stderr.write(`keyturn: could not print the ready banner: ${e.message}\n`));
  }
}

// All three may start on an empty database at once: migrations run under a
// Postgres advisory lock (libs/store), so exactly one applies them.
function start(name, file) {
  const child = spawn(process.execPath, [file], { stdio: ['ignore', 'pipe', 'pipe'], env: process.env });
  children.set(name, child);
  const reason = reasonTracker();
  const watch = (line) => {
    const ops = OPS_LINE.exec(line);
    if (ops) opsEndpoints.set(name, ops[1].split(' ').filter(Boolean));
    const m = READY[name].exec(line);
    if (m) onReady(name, m[1]);
  };
  prefixLines(name, child.stdout, process.stdout, watch);
  prefixLines(name, child.stderr, process.stderr, (line) => (watch(line), reason.see(line)));
  // 'close', not 'exit': the app's last words may still be in the pipe at 'exit'.
  child.on('close', (code, signal) => {
    children.delete(name);
    if (!stopping) {
      firstFailure = {
        code: code || 1,
        reason: reason.reason() || `keyturn: ${name} exited (${signal ?? code}); its output is above`,
      };
      process.stderr.write(`keyturn: ${name} exited (${signal ?? code}); stopping the others\n`);
      stopAll('SIGTERM');
    }
    if (children.size === 0) {
      if (firstFailure) process.stderr.write(`${firstFailure.reason}\n`);
      process.exit(firstFailure?.code ?? 0);
    }
  });
}

/** What a person needs next, once everything runs. */
async function printBanner(listeningUrl) {
  // The build has run, so the apps' own configuration code is there to read the same settings they did.
  const { loadConfig } = await import(new URL('dist/libs/config/src/index.js', ROOT).href);
  const config = loadConfig(process.env);
  const api = localUrl(listeningUrl);
  const adminKey = await adminKeyExists(config.database.url);
  const row = (label, text) => `  ${label.padEnd(10)} ${text}`;
  const lines = [
    '',
    'keyturn is ready',
    row('API', api),
    row('API docs', `${api}/docs`),
    ...(opsEndpoints.get('api')?.length ? [row('ops', opsEndpoints.get('api').map((path) => api + path).join('  '))] : []),
    ...['worker', 'scheduler'].flatMap((name) =>
      opsEndpoints.get(name)?.length ? [row(name, opsEndpoints.get(name).map((u) => localUrl(u) + new URL(u).pathname).join('  '))] : [],
    ),
    row(
      'admin key',
      adminKey === true
        ? 'an admin API key exists'
        : adminKey === false
          ? `none yet; create one with: ${ADMIN_KEY_COMMAND}`
          : `could not check (${adminKey}); to create one: ${ADMIN_KEY_COMMAND}`,
    ),
    row(
      'master key',
      config.crypto.masterKey
        ? 'from KEYTURN_MASTER_KEY'
        : `development key in ${config.crypto.masterKeyFile}: anyone who can read that file can decrypt every secret. Set KEYTURN_MASTER_KEY in production.`,
    ),
    '  Ctrl-C stops all three.',
    '',
  ];
  if (!stopping) process.stdout.write(lines.join('\n') + '\n');
}

/** The URL a browser on this machine can open: an API bound to every interface is reachable on loopback. */
function localUrl(listeningUrl) {
  const u = new URL(listeningUrl);
  if (u.hostname === '0.0.0.0' || u.hostname === '[::]') u.hostname = '127.0.0.1';
  return u.origin;
}

/** true or false; a string says why it could not be checked. */
async function adminKeyExists(databaseUrl) {
  const { default: pg } = await import('pg');
  const client = new pg.Client({ connectionString: databaseUrl, connectionTimeoutMillis: 5_000 });
  try {
    await client.connect();
    const { rows } = await client.query(`SELECT EXISTS (SELECT 1 FROM api_keys WHERE role = 'admin' AND revoked_at IS NULL) AS present`);
    return rows[0].present;
  } catch (e) {
    return e.message;
  } finally {
    await client.end().catch(() => undefined);
  }
}

for (const [name, file] of APPS) start(name, file);
process.on('SIGINT', () => stopAll('SIGTERM'));
process.on('SIGTERM', () => stopAll('SIGTERM'));
