/**
 * Issue 16: the README's curl walkthrough runs as pasted. This test takes the
 * blocks marked `<!-- walkthrough -->` out of README.md (so the text and the
 * test cannot drift) and runs exactly them, in order, in one bash, against the
 * IAM emulator and a Keyturn started with `npm start`. Only KT and
 * IAM_EMULATOR (which the walkthrough reads with the README's defaults) and
 * DATABASE_URL (which its `npm run cli` reads) point at this test's own ports
 * and database.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { generateMasterKey } from '@keyturn/crypto';
import { startIamEmulator, type IamEmulator } from '../iam-emulator/src/index.js';
import { REDIS_URL, createTestEnv, freePort, type TestEnv } from './harness.js';

const ROOT = new URL('../../', import.meta.url).pathname;

/** The walkthrough's bash blocks, in README order. */
function walkthroughBlocks(readme: string): string[] {
  return [...readme.matchAll(/^<!-- walkthrough -->\n```bash\n([\s\S]*?)^```$/gm)].map((m) => m[1]);
}

/** A person's shell: none of Keyturn's variables unless set here. */
function shellEnv(overrides: Record<string, string>): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (v === undefined || /^(KEYTURN_|DATABASE_URL$|REDIS_URL$|PORT$|HOST$|LOG_LEVEL$|NODE_ENV$|AWS_|KT$|IAM_EMULATOR|WORKER_OPS_PORT$|SCHEDULER_OPS_PORT$)/.test(k)) continue;
    env[k] = v;
  }
  // Ops listeners on ports the system picks: other test files run Keyturn's processes at the same time.
  return { ...env, WORKER_OPS_PORT: '0', SCHEDULER_OPS_PORT: '0', ...overrides };
}

function run(command: string, args: string[], env: Record<string, string>): { child: ChildProcess; output: () => string; closed: Promise<number | null> } {
  // Its own process group, so cleanup ends npm start and every app under it.
  const child = spawn(command, args, { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let out = '';
  child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (out += c.toString()));
  const closed = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
  return { child, output: () => out, closed };
}

describe('the README walkthrough, run verbatim', () => {
  let t: TestEnv;
  let emulator: IamEmulator;
  let keyturn: ReturnType<typeof run> | undefined;
  let kt: string;

  beforeAll(async () => {
    emulator = await startIamEmulator({ port: 0 });
    t = await createTestEnv();
    const port = await freePort();
    kt = `http://127.0.0.1:${port}`;
    // Started as the README says (`AWS_ENDPOINT_URL_IAM=… AWS_ENDPOINT_URL_STS=… npm start`), on this test's database, queue prefix and port.
    keyturn = run(
      'npm',
      ['start', '--', '--no-build'],
      shellEnv({
        AWS_ENDPOINT_URL_IAM: emulator.url,
        AWS_ENDPOINT_URL_STS: emulator.url,
        DATABASE_URL: t.databaseUrl,
        REDIS_URL,
        KEYTURN_QUEUE_PREFIX: `kt-${t.name}`,
        KEYTURN_MASTER_KEY: generateMasterKey(),
        PORT: String(port),
      }),
    );
    const started = Date.now();
    while (!/Ctrl-C stops all three/.test(keyturn.output())) {
      if (keyturn.child.exitCode !== null) throw new Error(`npm start exited (${keyturn.child.exitCode}):\n${keyturn.output()}`);
      if (Date.now() - started > 120_000) throw new Error(`npm start printed no ready banner within 120 s:\n${keyturn.output()}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  });
  afterAll(async () => {
    if (keyturn) {
      try {
        process.kill(-keyturn.child.pid!, 'SIGKILL');
      } catch (e) {
        if ((e as { code?: string }).code !== 'ESRCH') throw e;
      }
      await keyturn.closed;
    }
    await emulator?.close();
    await t?.drop();
  });

  it('creates the IAM user, stores and rotates its key and console password, and reads the audit trail', async () => {
    const blocks = walkthroughBlocks(readFileSync(join(ROOT, 'README.md'), 'utf8'));
    expect(blocks.length).toBeGreaterThanOrEqual(3);
    const script = blocks.join('\n');

    // -e and pipefail: a step that fails stops the run here, where a person would see it.
    const bash = run(
      'bash',
      ['-c', `set -euo pipefail\n${script}`],
      shellEnv({ KT: kt, IAM_EMULATOR: emulator.url, DATABASE_URL: t.databaseUrl }),
    );
    const timer = setTimeout(() => process.kill(-bash.child.pid!, 'SIGKILL'), 150_000);
    const code = await bash.closed;
    clearTimeout(timer);
    const out = bash.output();
    if (code !== 0) throw new Error(`the walkthrough exited ${code}; output:\n${out}`);

    // Every response it printed, in order.
    const json = out
      .split('\n')
      .filter((l) => l.startsWith('{') || l.startsWith('['))
      .map((l) => JSON.parse(l) as any);
    const find = (pred: (o: any) => boolean, what: string) => {
      const hit = json.find(pred);
      if (!hit) throw new Error(`no ${what} in the walkthrough's output:\n${out}`);
      return hit;
    };

    const created = find((o) => o.type === 'aws-iam-key' && o.name === 'ci-bot', 'stored key secret');
    expect(created).toEqual(expect.objectContaining({ folder: '/ci', username: 'ci-bot', accountId: emulator.accountId, heartbeatStatus: 'unknown' }));
    expect(JSON.stringify(created)).not.toMatch(/AKIA|secretAccessKey/);

    const permissions = find((o) => o.mode === 'basic' && o.policy, 'required-permissions answer');
    expect(JSON.stringify(permissions.policy)).toContain('iam:CreateAccessKey');

    // The key rotation succeeded, and the value read afterwards is the key IAM now has.
    const keyRotation = find((o) => o.secretId === created.id && ['succeeded', 'failed'].includes(o.status), 'finished key rotation');
    expect([keyRotation.status, keyRotation.errorCode ?? null]).toEqual(['succeeded', null]);
    const value = find((o) => o.id === created.id && typeof o.fields?.accessKeyId === 'string', 'secret value');
    expect(value.version).toBe(2);
    // The only active key of the user in IAM (the emulator) is the one Keyturn now holds.
    const active = emulator.listKeys('ci-bot').filter((k) => k.status === 'Active');
    expect(active.map((k) => k.accessKeyId)).toEqual([value.fields.accessKeyId]);

    // The console password, changed through the key secret: AWS has the password Keyturn stores.
    const pwSecret = find((o) => o.type === 'aws-iam-console-password', 'stored console password secret');
    expect(pwSecret.privilegedSecretId).toBe(created.id);
    const pwRotation = find((o) => o.secretId === pwSecret.id && ['succeeded', 'failed'].includes(o.status), 'finished password rotation');
    expect([pwRotation.status, pwRotation.errorCode ?? null]).toEqual(['succeeded', null]);
    const pwValue = find((o) => o.id === pwSecret.id && typeof o.fields?.password === 'string', 'console password value');
    expect(pwValue.version).toBe(2);
    expect(emulator.getPassword('ci-bot')).toBe(pwValue.fields.password);

    // The audit trail of the key secret.
    const audit = find((o) => Array.isArray(o.items) && o.items.some((e: any) => e.action === 'secret.create'), 'audit page');
    expect(audit.items.map((e: any) => e.action)).toEqual(expect.arrayContaining(['secret.create', 'rotation.request', 'rotation.succeeded', 'secret.value.read']));
  });
});
