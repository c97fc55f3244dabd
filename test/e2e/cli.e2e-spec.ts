/**
 * The operator CLI (npm run cli -- secrets|rotations|queues …) against a real API,
 * a worker and the IAM emulator: the built dist/apps/cli, run as an operator would.
 */
import { spawn } from 'node:child_process';
import { AwsFixture } from './aws-fixture.js';
import { Processes, WORKER_ENV } from './vault-ops.js';
import { client, createApiKey, createTestEnv, freePort, startApi, type Client, type RunningApi, type TestEnv } from './harness.js';

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

const CLI = new URL('../../dist/apps/cli/src/main.js', import.meta.url).pathname;
const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/;

describe('operator CLI', () => {
  let aws: AwsFixture;
  let t: TestEnv;
  let api: RunningApi;
  let admin: Client;
  let operatorToken: string;
  const procs = new Processes(() => ({ ...t.env, ...aws.env, ...WORKER_ENV }));

  /** Runs the CLI with KEYTURN_URL and KEYTURN_TOKEN (an operator's key unless `env` says otherwise). */
  const cli = (args: string[], opts: { stdin?: string; env?: Record<string, string | undefined> } = {}): Promise<Run> =>
    new Promise((resolve, reject) => {
      const env: Record<string, string> = { PATH: process.env.PATH ?? '', KEYTURN_URL: api.url, KEYTURN_TOKEN: operatorToken };
      for (const [k, v] of Object.entries(opts.env ?? {})) {
        if (v === undefined) delete env[k];
        else env[k] = v;
      }
      const child = spawn(process.execPath, [CLI, ...args], { env, stdio: ['pipe', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
      child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
      child.on('error', reject);
      child.on('close', (code) => resolve({ code, stdout, stderr }));
      child.stdin.end(opts.stdin ?? '');
    });

  /** `secrets create` of a key for `user`, the secret access key on standard input. */
  const createKey = async (user: { userName: string; accessKeyId: string; secretAccessKey: string }) => {
    const r = await cli(
      ['secrets', 'create', '--type', 'key', '--name', `${user.userName} key`, '--folder', '/cli', '--username', user.userName, '--account-id', aws.accountId, '--access-key-id', user.accessKeyId, '--json'],
      { stdin: `${user.secretAccessKey}\n` },
    );
    expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: '' });
    expect(r.stdout).not.toContain(user.secretAccessKey);
    return JSON.parse(r.stdout).id as string;
  };

  beforeAll(async () => {
    aws = await AwsFixture.start();
    t = await createTestEnv();
    api = await startApi(t);
    admin = client(api.url, t.adminToken);
    operatorToken = (await createApiKey(admin, 'operator')).token;
    await procs.start('rotation-worker');
  });
  afterAll(async () => {
    await procs.stopAll();
    await api?.close();
    await t?.drop();
    await aws?.close();
  });

  it('create, list, get and value: only `secrets value` prints the secret', async () => {
    const u = await aws.user(aws.uniqueName('cli'));
    const created = await cli(
      ['secrets', 'create', '--type', 'key', '--name', `${u.userName} key`, '--folder', '/cli', '--username', u.userName, '--account-id', aws.accountId, '--access-key-id', u.accessKeyId],
      { stdin: u.secretAccessKey },
    );
    expect({ code: created.code, stderr: created.stderr }).toEqual({ code: 0, stderr: '' });
    expect(created.stdout).toMatch(new RegExp(`created: +${UUID.source}`));
    expect(created.stdout).not.toContain(u.secretAccessKey);
    const id = UUID.exec(created.stdout)![0];

    const listed = await cli(['secrets', 'list', '--json', '--folder', '/cli']);
    expect(listed.code).toBe(0);
    const items = JSON.parse(listed.stdout) as { id: string; name: string; username: string }[];
    expect(items).toEqual(expect.arrayContaining([expect.objectContaining({ id, name: `${u.userName} key`, username: u.userName })]));
    expect(listed.stdout).not.toContain(u.secretAccessKey);

    const table = await cli(['secrets', 'list', '--folder', '/cli']);
    expect(table.code).toBe(0);
    expect(table.stdout.split('\n')[0]).toMatch(/^ID +TYPE +NAME +FOLDER +USER +ACCOUNT +HEARTBEAT +LAST ROTATED$/);
    expect(table.stdout).toMatch(new RegExp(`${id} +aws-iam-key +${u.userName} key +/cli +${u.userName} +${aws.accountId} `));

    const got = await cli(['secrets', 'get', id]);
    expect(got.code).toBe(0);
    expect(got.stdout).toMatch(new RegExp(`^id: +${id}$`, 'm'));
    expect(got.stdout).not.toContain(u.secretAccessKey);

    const value = await cli(['secrets', 'value', id]);
    expect(value.code).toBe(0);
    expect(value.stdout).toMatch(new RegExp(`^accessKeyId: +${u.accessKeyId}$`, 'm'));
    expect(value.stdout).toMatch(new RegExp(`^secretAccessKey: +${u.secretAccessKey.replace(/[+/]/g, '\\$&')}$`, 'm'));
    const json = await cli(['secrets', 'value', id, '--json']);
    expect(JSON.parse(json.stdout)).toMatchObject({ id, version: 1, fields: { accessKeyId: u.accessKeyId, secretAccessKey: u.secretAccessKey } });
  });

  it('rotate --wait shows the steps and exits 0 once the key is changed; rotations get shows it', async () => {
    const name = aws.uniqueName('cli-rot');
    const { requiredPermissions } = await import('@keyturn/secrets');
    const { SecretType } = await import('@keyturn/contracts');
    const policy = requiredPermissions({ type: SecretType.AwsIamKey, partition: 'aws', accountId: aws.accountId, targetUser: name, executorUser: name }).policy;
    const u = await aws.user(name, policy);
    const id = await createKey(u);

    // The new key answers only after 3 s (IAM's propagation), so the rotation dwells in its verify step
    // for several of the CLI's polls: without it, a fast rotation could go from queued to done between two.
    aws.emu.setPropagationDelayMs(3_000);
    const r = await cli(['secrets', 'rotate', id, '--wait']).finally(() => aws.emu.setPropagationDelayMs(0));
    expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: '' });
    const rotationId = new RegExp(`^rotation (${UUID.source})`).exec(r.stdout)![1];
    // Each change of step on its own line, ending with done.
    expect(r.stdout).toMatch(/ running +\w/);
    expect(r.stdout).toMatch(/ succeeded +done$/m);
    expect(r.stdout).toContain(`rotation ${rotationId} succeeded`);
    const now = (await admin.get(`/v1/secrets/${id}/value`)).body.fields;
    expect(now.accessKeyId).not.toBe(u.accessKeyId);
    for (const secret of [u.secretAccessKey, now.secretAccessKey]) expect(r.stdout + r.stderr).not.toContain(secret);

    const got = await cli(['rotations', 'get', rotationId]);
    expect(got.code).toBe(0);
    expect(got.stdout).toMatch(/^status: +succeeded$/m);
    expect(got.stdout).toMatch(/^step: +done$/m);
    expect(got.stdout).toMatch(/^mode: +basic$/m);
    const asJson = await cli(['rotations', 'get', rotationId, '--json']);
    expect(JSON.parse(asJson.stdout)).toMatchObject({ id: rotationId, secretId: id, status: 'succeeded', errorCode: null });
  });

  it('rotate --wait exits 1 with the error code and message when the change fails', async () => {
    const name = aws.uniqueName('cli-denied');
    const u = await aws.user(name, { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: ['iam:ListAccessKeys'], Resource: '*' }] });
    const id = await createKey(u);

    const r = await cli(['secrets', 'rotate', id, '--wait']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(new RegExp(`^keyturn: rotation ${UUID.source} failed: IAM_ACCESS_DENIED: .*iam:CreateAccessKey`, 'm'));
    expect(r.stderr).not.toMatch(/\n\s+at /);
    expect(r.stdout).toMatch(/ failed +\w/);

    const json = await cli(['secrets', 'rotate', id, '--wait', '--json']);
    expect(json.code).toBe(1);
    expect(JSON.parse(json.stdout)).toMatchObject({ secretId: id, status: 'failed', errorCode: 'IAM_ACCESS_DENIED' });
  });

  it('heartbeat --wait exits 0 when AWS accepts the key', async () => {
    const u = await aws.user(aws.uniqueName('cli-hb'));
    const id = await createKey(u);
    const r = await cli(['secrets', 'heartbeat', id, '--wait']);
    expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: '' });
    expect(r.stdout).toMatch(/^outcome: +success$/m);
    expect(r.stdout).toMatch(new RegExp(`^answered as: +arn:aws:iam::${aws.accountId}:user/${u.userName}$`, 'm'));
    expect(r.stdout).not.toContain(u.secretAccessKey);
  });

  it('heartbeat --wait exits 1 with the error code when AWS no longer accepts the key', async () => {
    const u = await aws.user(aws.uniqueName('cli-hb-gone'));
    const id = await createKey(u);
    await aws.deleteKey(u.userName, u.accessKeyId);
    const r = await cli(['secrets', 'heartbeat', id, '--wait']);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/^outcome: +failed$/m);
    expect(r.stderr).toMatch(new RegExp(`^keyturn: heartbeat ${UUID.source} failed: IAM_INVALID_CREDENTIALS: `));
    expect(r.stdout + r.stderr).not.toContain(u.secretAccessKey);
  });

  it('queues: job counts, as a table and as JSON', async () => {
    const r = await cli(['queues']);
    expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: '' });
    expect(r.stdout.split('\n')[0]).toMatch(/^NAME +WAITING +ACTIVE +DELAYED +FAILED +COMPLETED$/);
    expect(r.stdout).toMatch(/^rotation +\d+ +\d+ +\d+ +\d+ +\d+$/m);
    expect(r.stdout).toMatch(/^heartbeat +\d+ +\d+ +\d+ +\d+ +\d+$/m);
    const json = await cli(['queues', '--json']);
    const queues = JSON.parse(json.stdout) as { name: string; completed: number }[];
    expect(queues.map((q) => q.name).sort()).toEqual(['discovery', 'heartbeat', 'rotation']);
    // The earlier tests' rotations and heartbeat ran in the worker.
    expect(queues.find((q) => q.name === 'rotation')!.completed).toBeGreaterThanOrEqual(1);
  });

  it('shows an API error as its code and message, never a stack; missing settings are a usage error', async () => {
    const missing = await cli(['secrets', 'get', '01890000-0000-7000-8000-000000000001']);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/^keyturn: SECRET_NOT_FOUND: .*01890000-0000-7000-8000-000000000001/);
    expect(missing.stderr.trim().split('\n')).toHaveLength(1);

    const viewer = (await createApiKey(admin, 'viewer')).token;
    const forbidden = await cli(['queues'], { env: { KEYTURN_TOKEN: viewer } });
    expect(forbidden.code).toBe(1);
    expect(forbidden.stderr).toMatch(/^keyturn: FORBIDDEN: /);

    const noToken = await cli(['queues'], { env: { KEYTURN_TOKEN: undefined } });
    expect(noToken.code).toBe(2);
    expect(noToken.stderr).toBe('keyturn: KEYTURN_TOKEN is not set (an API key token, kt_…)\n');

    const closed = await freePort();
    const unreachable = await cli(['queues'], { env: { KEYTURN_URL: `http://127.0.0.1:${closed}` } });
    expect(unreachable.code).toBe(69);
    expect(unreachable.stderr).toBe(`keyturn: cannot reach the Keyturn API at http://127.0.0.1:${closed} (ECONNREFUSED)\n`);

    const badId = await cli(['secrets', 'value', 'nope']);
    expect(badId.code).toBe(2);
    expect(badId.stderr).toBe('keyturn: not an id: nope\n');
  });
});
