import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { Redis } from 'ioredis';
import pg from 'pg';
import { PG_ADMIN_URL, REDIS_URL } from './harness.js';

const ROOT = new URL('../../', import.meta.url).pathname;

interface DemoRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs scripts/demo.mjs the way `npm run demo` does after its build (the e2e run builds first). */
function runDemo(env: Record<string, string> = {}, timeoutMs = 220_000): Promise<DemoRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['scripts/demo.mjs'], {
      cwd: ROOT,
      env: { ...process.env, DEMO_PG_URL: PG_ADMIN_URL, DEMO_REDIS_URL: REDIS_URL, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    // The demo bounds itself at about three minutes; this is only the backstop.
    const timer = setTimeout(() => {
      child.kill('SIGINT');
      reject(new Error(`the demo did not end within ${timeoutMs} ms; output so far:\n${stdout}\n${stderr}`));
    }, timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

const count = (text: string, re: RegExp) => (text.match(new RegExp(re.source, 'g')) ?? []).length;

describe('npm run demo (scripts/demo.mjs)', () => {
  it('walks through every feature, cleans up after itself and never prints key material', async () => {
    const run = await runDemo();
    const all = `${run.stdout}\n${run.stderr}`;
    if (run.code !== 0) throw new Error(`demo exited ${run.code}:\n${all}`);
    expect(run.stdout.trimEnd().endsWith('demo: done')).toBe(true);

    // Startup and least privilege.
    expect(run.stdout).toMatch(/\/health\/ready answered 200/);
    expect(run.stdout).toMatch(/required-permissions for app-user: basic mode, executed by app-user/);
    expect(run.stdout).toMatch(/required-permissions for payments-svc: privileged mode, executed by rotator/);
    expect(run.stdout).toMatch(/required-permissions for console-user: privileged mode, executed by rotator/);

    // Rotations: basic once, privileged twice (before and after the key was deleted behind Keyturn's back).
    expect(run.stdout).toMatch(/rotation of app-user's key: succeeded in basic mode/);
    expect(count(run.stdout, /rotation of payments-svc's key: succeeded in privileged mode/)).toBe(2);
    expect(count(run.stdout, /old key AKIA…[A-Z0-9]{4}: AWS refuses it \(InvalidClientTokenId\)/)).toBe(2);
    expect(run.stdout).toMatch(/new key AKIA…[A-Z0-9]{4}: STS GetCallerIdentity answers arn:aws:iam::\d{12}:user\/app-user/);

    // The console password.
    expect(run.stdout).toMatch(/rotation of console-user's password: succeeded in privileged mode/);
    expect(run.stdout).toMatch(/console password of console-user changed: AWS now has a new \d+-character password/);

    // Heartbeats: success, then failed after the deletion, then success after the repair.
    expect(run.stdout).toMatch(/heartbeat of app-user: success/);
    const failedAt = run.stdout.search(/heartbeat of payments-svc: failed/);
    expect(failedAt).toBeGreaterThan(run.stdout.search(/deleted payments-svc's current key/));
    expect(run.stdout.lastIndexOf('heartbeat of payments-svc: success')).toBeGreaterThan(failedAt);
    expect(run.stdout).toMatch(/payments-svc’s heartbeat status is success again/);

    // The audit trail.
    const audit = /audit trail: (\d+) events/.exec(run.stdout);
    expect(audit).not.toBeNull();
    expect(Number(audit![1])).toBeGreaterThanOrEqual(10);
    expect(run.stdout).toMatch(/\d+ × rotation\.succeeded/);

    // No key material: no secret access key or token-like run, no full access key id, no API token.
    expect(all).not.toMatch(/[A-Za-z0-9/+]{40}/);
    expect(all).not.toMatch(/AKIA[A-Z0-9]{16}/);
    expect(all).not.toMatch(/kt_[A-Za-z0-9_-]{16}/);
    expect(all).not.toMatch(/\[redacted\]/); // nothing that needed scrubbing came back from the server

    // Everything it started is gone: the database, the Redis keys; the log file stays.
    const db = /dropped database (keyturn_demo_\w+)/.exec(run.stdout)![1];
    const admin = new pg.Client({ connectionString: PG_ADMIN_URL });
    await admin.connect();
    const { rows } = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [db]);
    await admin.end();
    expect(rows).toHaveLength(0);
    const prefix = /Redis key prefix (kt-demo-\w+)/.exec(run.stdout)![1];
    const redis = new Redis(REDIS_URL);
    const [, left] = await redis.scan('0', 'MATCH', `${prefix}:*`, 'COUNT', 10_000);
    await redis.quit();
    expect(left).toEqual([]);
    expect(existsSync(/app logs kept in (\S+)/.exec(run.stdout)![1])).toBe(true);
  }, 240_000);

  it('fails with a clear message and a non-zero exit when Postgres cannot be reached', async () => {
    const run = await runDemo({ DEMO_PG_URL: 'postgres://postgres@127.0.0.1:1/postgres' }, 60_000);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/^demo: FAILED during "1\. Start/m);
    expect(run.stderr).toMatch(/ECONNREFUSED/);
    expect(run.stdout).toMatch(/closed the IAM emulator/);
    expect(run.stdout).not.toMatch(/demo: done/);
  }, 90_000);
});
