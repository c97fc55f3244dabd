import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { openApiDocument } from './openapi-check.js';
import { SETTING_NAMES } from '@keyturn/contracts';
import { checkedFetch, client, createTestEnv, fakeKey, freePort, spawnApp, type SpawnedApp, type TestEnv } from './harness.js';

const run = promisify(execFile);
const ROOT = new URL('../../', import.meta.url).pathname;

/** Waits for a process to end by itself and resolves with its exit code; the timeout only catches a hung process. */
function exitOf(app: SpawnedApp, timeoutMs = 60_000): Promise<{ code: number | null }> {
  return new Promise((resolve, reject) => {
    if (app.child.exitCode !== null) return resolve({ code: app.child.exitCode });
    const timer = setTimeout(() => {
      app.child.kill('SIGKILL');
      reject(new Error(`still running after ${timeoutMs} ms; output:\n${app.output().slice(-3000)}`));
    }, timeoutMs);
    app.child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code });
    });
  });
}

/**
 * SIGTERM, then the exit code and the signal that ended it (null when it exited by itself).
 * An idle app promises to exit 0 on its own; how fast depends on the machine, so the only
 * bound is a guard against a hung process, far above any orderly shutdown.
 */
async function stop(app: SpawnedApp): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  const code = await Promise.race([
    app.kill('SIGTERM'),
    new Promise<'hung'>((r) => setTimeout(() => r('hung'), 60_000).unref()),
  ]);
  if (code === 'hung') {
    app.child.kill('SIGKILL');
    throw new Error(`still running 60 s after SIGTERM; output:\n${app.output().slice(-3000)}`);
  }
  return { code, signal: app.child.signalCode };
}

describe('the built apps as processes', () => {
  let t: TestEnv;
  const running: SpawnedApp[] = [];
  const spawnTracked = (...args: Parameters<typeof spawnApp>) => {
    const app = spawnApp(...args);
    running.push(app);
    return app;
  };

  beforeAll(async () => {
    t = await createTestEnv();
  });
  afterAll(async () => {
    for (const app of running) if (app.child.exitCode === null && app.child.signalCode === null) app.child.kill('SIGKILL');
    await t?.drop();
  });

  it('secrets-api: health, OpenAPI docs, and a clean exit on SIGTERM', async () => {
    const port = await freePort();
    const api = spawnTracked('secrets-api', { ...t.env, PORT: String(port) });
    await api.waitFor(/listening on/);
    const url = `http://127.0.0.1:${port}`;

    const live = await checkedFetch(`${url}/health/live`);
    expect(live.status).toBe(200);
    expect(await live.json()).toEqual({ status: 'ok' });
    const ready = await checkedFetch(`${url}/health/ready`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ status: 'ok', checks: { postgres: 'ok', redis: 'ok' } });

    const docs = await checkedFetch(`${url}/docs`);
    expect(docs.status).toBe(200);
    expect(docs.headers.get('content-type')).toMatch(/text\/html/);
    expect(await docs.text()).toMatch(/<html/i);
    const spec = await checkedFetch(`${url}/docs/openapi.json`);
    expect(spec.status).toBe(200);
    const openapi = (await spec.json()) as { openapi: string; paths: Record<string, unknown>; components: { schemas: Record<string, unknown> } };
    expect(openapi.openapi).toMatch(/^3\./);
    expect(Object.keys(openapi.paths)).toEqual(expect.arrayContaining(['/v1/secrets', '/v1/secrets/{id}', '/v1/secrets/{id}/value']));
    // The document the e2e answers are checked against (openapi-check.ts) is the one the API serves.
    expect(openapi).toEqual(JSON.parse(JSON.stringify(await openApiDocument())));
    expect(openapi.components.schemas.CreateSecretDto).toEqual(
      expect.objectContaining({ properties: expect.objectContaining({ type: expect.anything(), name: expect.anything(), accountId: expect.anything() }) }),
    );
    // The create body is one schema per secret type (oneOf, discriminated by type); both settings schemas list the ten settings.
    const doc = openapi as any;
    const body = doc.paths['/v1/secrets'].post.requestBody.content['application/json'].schema;
    const keyRef = '#/components/schemas/CreateAwsIamKeySecretDto';
    const passwordRef = '#/components/schemas/CreateAwsIamConsolePasswordSecretDto';
    expect(body.oneOf).toEqual([{ $ref: keyRef }, { $ref: passwordRef }]);
    expect(body.discriminator).toEqual({ propertyName: 'type', mapping: { 'aws-iam-key': keyRef, 'aws-iam-console-password': passwordRef } });
    const schemas = doc.components.schemas;
    const keyProps = Object.keys(schemas.CreateAwsIamKeySecretDto.properties);
    const passwordProps = Object.keys(schemas.CreateAwsIamConsolePasswordSecretDto.properties);
    expect(keyProps).toEqual(expect.arrayContaining(['type', 'name', 'username', 'accountId', 'accessKeyId', 'secretAccessKey']));
    expect(keyProps).not.toContain('password');
    expect(passwordProps).toEqual(expect.arrayContaining(['type', 'name', 'username', 'accountId', 'password']));
    expect(passwordProps).not.toContain('accessKeyId');
    expect(schemas.CreateAwsIamKeySecretDto.required).toEqual(expect.arrayContaining(['accessKeyId', 'secretAccessKey']));
    expect(schemas.CreateAwsIamKeySecretDto.properties.type.enum).toEqual(['aws-iam-key']);
    // Every setting of the one schema, in both DTOs.
    const all = Object.keys(schemas.PutSettingsDto.properties).sort();
    expect(all).toEqual([...SETTING_NAMES].sort());
    expect(Object.keys(schemas.SecretSettingsDto.properties).sort()).toEqual(all);
    // The docs are public, the API is not.
    expect((await checkedFetch(`${url}/v1/secrets`)).status).toBe(401);

    const { code, signal } = await stop(api);
    expect(api.output()).not.toContain(t.env.KEYTURN_MASTER_KEY);
    expect(api.output()).not.toContain(t.adminToken);
    expect({ code, signal }).toEqual({ code: 0, signal: null });
  });

  it('secrets-api: a bad PORT stops it with a message naming PORT and no secret values', async () => {
    const app = spawnTracked('secrets-api', { ...t.env, PORT: 'abc' });
    const { code } = await exitOf(app);
    expect(code).not.toBe(0);
    expect(code).not.toBeNull();
    expect(app.output()).toMatch(/PORT/);
    expect(app.output()).not.toContain(t.env.KEYTURN_MASTER_KEY);
    expect(app.output()).not.toContain(t.adminToken);
  });

  it('secrets-api: NODE_ENV=production without KEYTURN_MASTER_KEY refuses to start, naming it', async () => {
    const { KEYTURN_MASTER_KEY: _unset, ...env } = t.env;
    const app = spawnTracked('secrets-api', { ...env, NODE_ENV: 'production', PORT: String(await freePort()) });
    const { code } = await exitOf(app);
    expect(code).not.toBe(0);
    expect(code).not.toBeNull();
    expect(app.output()).toMatch(/KEYTURN_MASTER_KEY/);
    expect(app.output()).not.toContain(t.adminToken);
  });

  it('secrets-api: a bootstrap token that is not an API key stops it, without printing the token', async () => {
    const bad = 'not-a-kt-token-' + 'z'.repeat(30);
    const app = spawnTracked('secrets-api', { ...t.env, KEYTURN_BOOTSTRAP_ADMIN_TOKEN: bad, PORT: String(await freePort()) });
    const { code } = await exitOf(app);
    expect(code).not.toBe(0);
    expect(code).not.toBeNull();
    expect(app.output()).toMatch(/KEYTURN_BOOTSTRAP_ADMIN_TOKEN/);
    expect(app.output()).not.toContain(bad);
    expect(app.output()).not.toContain(t.env.KEYTURN_MASTER_KEY);
  });

  it.each(['rotation-worker', 'heartbeat-scheduler'] as const)('%s starts, logs ready, and exits 0 on SIGTERM', async (name) => {
    const app = spawnTracked(name, t.env);
    await app.waitFor(/ready/);
    const { code, signal } = await stop(app);
    expect(app.output()).not.toContain(t.env.KEYTURN_MASTER_KEY);
    expect({ code, signal }).toEqual({ code: 0, signal: null });
  });

  it('CLI: api-keys create prints a kt_ token once, and it works against a running API', async () => {
    const env = { PATH: process.env.PATH ?? '', ...t.env };
    const { stdout, stderr } = await run(process.execPath, ['dist/apps/cli/src/main.js', 'api-keys', 'create', '--role', 'operator', '--name', 'x'], {
      cwd: ROOT,
      env,
    });
    const m = /token \(shown once\): (kt_[A-Za-z0-9_-]{43})\s*$/m.exec(stdout);
    expect(m).not.toBeNull();
    const token = m![1];
    expect(stdout.split(token)).toHaveLength(2);
    expect(stderr).not.toContain(token);
    expect(stdout).toMatch(/created API key [0-9a-f-]{36} \(operator\)/);

    const port = await freePort();
    const api = spawnTracked('secrets-api', { ...t.env, PORT: String(port) });
    await api.waitFor(/listening on/);
    const ops = client(`http://127.0.0.1:${port}`, token);
    const created = await ops.post('/v1/secrets', { type: 'aws-iam-key', name: 'from cli key', folder: '/cli', username: 'u', accountId: '123456789012', ...fakeKey() });
    expect(created.status).toBe(201);
    // It is an operator key: admin endpoints stay closed.
    expect((await ops.get('/v1/api-keys')).status).toBe(403);
    const keys = await client(`http://127.0.0.1:${port}`, t.adminToken).get('/v1/api-keys');
    expect(keys.body).toEqual(expect.arrayContaining([expect.objectContaining({ name: 'x', role: 'operator', createdBy: 'cli' })]));
    expect(api.output()).not.toContain(token);
    const stopped = await stop(api);
    expect({ code: stopped.code, signal: stopped.signal }).toEqual({ code: 0, signal: null });
  });

  it('CLI: a bad role is refused with a message naming the roles', async () => {
    const env = { PATH: process.env.PATH ?? '', ...t.env };
    await expect(
      run(process.execPath, ['dist/apps/cli/src/main.js', 'api-keys', 'create', '--role', 'root', '--name', 'x'], { cwd: ROOT, env }),
    ).rejects.toMatchObject({ code: 2, stderr: expect.stringMatching(/--role must be one of admin, operator, reader, viewer, auditor/) });
  });
});
