/**
 * What the rotation, console-password, heartbeat and permissions suites all do
 * through the API: store secrets, change them, wait for the change, read values;
 * and run Keyturn's processes against the emulator.
 */
import { SecretType } from '@keyturn/contracts';
import { requiredPermissions } from '@keyturn/secrets';
import type { AwsFixture, Creds } from './aws-fixture.js';
import { eventually, spawnApp, type Client, type SpawnedApp } from './harness.js';

/** Fast leases and verify waits, so crash and recovery tests take seconds. */
export const WORKER_ENV = {
  KEYTURN_LEASE_MS: '5000',
  KEYTURN_VERIFY_WINDOW_MS: '20000',
  KEYTURN_VERIFY_INITIAL_DELAY_MS: '100',
  KEYTURN_WORKER_CONCURRENCY: '4',
};

/** The calls, bound late: `admin()` and `accountId()` are read when a call runs (after beforeAll). */
export function vaultOps(admin: () => Client, accountId: () => string) {
  const unique = () => Math.random().toString(36).slice(2, 8);
  const created = (r: { status: number; body: any }) => {
    expect({ status: r.status, body: r.body }).toMatchObject({ status: 201 });
    return r.body.id as string;
  };
  return {
    async keySecret(userName: string, key: Creds, extra: Record<string, unknown> = {}): Promise<string> {
      return created(
        await admin().post('/v1/secrets', {
          type: 'aws-iam-key',
          name: `${userName}-key-${unique()}`,
          folder: '/e2e',
          username: userName,
          accountId: accountId(),
          accessKeyId: key.accessKeyId,
          secretAccessKey: key.secretAccessKey,
          ...extra,
        }),
      );
    },

    async passwordSecret(userName: string, password: string, extra: Record<string, unknown> = {}): Promise<string> {
      return created(
        await admin().post('/v1/secrets', {
          type: 'aws-iam-console-password',
          name: `${userName}-console-${unique()}`,
          folder: '/e2e',
          username: userName,
          accountId: accountId(),
          password,
          ...extra,
        }),
      );
    },

    async rotate(secretId: string, headers: Record<string, string> = {}): Promise<string> {
      const r = await admin().post(`/v1/secrets/${secretId}/rotations`, undefined, { headers });
      expect({ status: r.status, body: r.body }).toMatchObject({ status: 202 });
      return r.body.id;
    },

    /** The rotation once it has succeeded or failed. */
    async finished(rotationId: string, timeoutMs = 60_000): Promise<any> {
      return eventually(async () => {
        const r = await admin().get(`/v1/rotations/${rotationId}`);
        return r.body.status === 'succeeded' || r.body.status === 'failed' ? r.body : null;
      }, timeoutMs);
    },

    async value<T = Record<string, string>>(secretId: string): Promise<T> {
      const r = await admin().get(`/v1/secrets/${secretId}/value`);
      expect(r.status).toBe(200);
      return r.body.fields as T;
    },
  };
}

/** A new emulator user whose policy lets its key rotate itself, and that key stored as a secret with `settings`. */
export async function selfRotatingKeySecret(
  aws: AwsFixture,
  ops: ReturnType<typeof vaultOps>,
  prefix: string,
  settings: Record<string, unknown> = {},
): Promise<{ name: string; u: Creds; id: string }> {
  const name = aws.uniqueName(prefix);
  const policy = requiredPermissions({ type: SecretType.AwsIamKey, partition: 'aws', accountId: aws.accountId, targetUser: name, executorUser: name }).policy;
  const u = await aws.user(name, policy);
  return { name, u, id: await ops.keySecret(name, u, { settings }) };
}

/** Keyturn processes started by a suite; every one is stopped by `stopAll`. */
export class Processes {
  private readonly running: SpawnedApp[] = [];

  constructor(private readonly env: () => Record<string, string>) {}

  async start(
    app: 'secrets-api' | 'rotation-worker' | 'heartbeat-scheduler',
    extra: Record<string, string> = {},
    ready: RegExp = app === 'secrets-api' ? /listening on/ : /ready: connected/,
  ): Promise<SpawnedApp> {
    const p = spawnApp(app, { ...this.env(), ...extra });
    this.running.push(p);
    await p.waitFor(ready);
    return p;
  }

  /** Forget a process that the test killed itself. */
  forget(p: SpawnedApp): void {
    const i = this.running.indexOf(p);
    if (i >= 0) this.running.splice(i, 1);
  }

  async stopAll(): Promise<void> {
    await Promise.all(this.running.splice(0).map((p) => p.kill('SIGTERM')));
  }
}
