import { DEFAULT_SETTINGS, ErrorCode, SecretType, type Actor } from '@keyturn/contracts';
import type { KeyturnConfig } from '@keyturn/config';
import type { SecretEntity, SecretVersionEntity, SecretsApiRepository } from '@keyturn/store';
import type { SettingsService, VersionCipher } from '@keyturn/vault';
import { CreateSecretUseCase } from './create-secret.usecase.js';
import { DeleteSecretUseCase } from './delete-secret.usecase.js';
import { GetSecretUseCase } from './get-secret.usecase.js';
import { UpdateSecretUseCase } from './update-secret.usecase.js';
import { HeartbeatSchedule } from './heartbeat-schedule.js';

/**
 * An in-memory SecretsApiRepository. A transaction runs on a copy and keeps it only if the work succeeds.
 */
class FakeSecretsRepository {
  secrets = new Map<string, SecretEntity>();
  versions: SecretVersionEntity[] = [];
  inFlight = new Set<string>();
  /** Blind index → holder, for liveHolderOf. */
  holders = new Map<string, { secretId: string; folder: string }>();

  asRepository(): SecretsApiRepository {
    return this as unknown as SecretsApiRepository;
  }

  async transaction<T>(work: (tx: SecretsApiRepository) => Promise<T>): Promise<T> {
    const copy = new FakeSecretsRepository();
    copy.secrets = new Map([...this.secrets].map(([k, v]) => [k, { ...v }]));
    copy.versions = [...this.versions];
    copy.inFlight = this.inFlight;
    copy.holders = this.holders;
    const out = await work(copy.asRepository());
    this.secrets = copy.secrets;
    this.versions = copy.versions;
    return out;
  }

  async findById(id: string) {
    return this.secrets.get(id) ?? null;
  }
  async privilegedSecretIdOf(id: string) {
    return this.secrets.get(id)?.privilegedSecretId ?? null;
  }
  async nameTaken(folder: string, name: string) {
    return [...this.secrets.values()].some((s) => s.folder === folder && s.name === name);
  }
  async liveHolderOf(hmacs: string[]) {
    for (const h of hmacs) if (this.holders.has(h)) return this.holders.get(h)!;
    return null;
  }
  async insert(secret: Partial<SecretEntity>, firstVersion: SecretVersionEntity) {
    const now = new Date();
    this.secrets.set(secret.id!, { lastHeartbeatAt: null, lastRotatedAt: null, createdAt: now, updatedAt: now, ...secret } as SecretEntity);
    this.versions.push(firstVersion);
  }
  async update(id: string, changes: Partial<SecretEntity>) {
    Object.assign(this.secrets.get(id)!, changes);
  }
  async currentVersion(secretId: string) {
    return this.versions.find((v) => v.secretId === secretId && v.state === 'current') ?? null;
  }
  async currentVersionNumber(secretId: string) {
    return (await this.currentVersion(secretId))?.version ?? null;
  }
  /** No global settings stored: the defaults apply. */
  async findView(id: string) {
    const secret = this.secrets.get(id);
    return secret ? { secret, currentVersion: await this.currentVersionNumber(id), globalSettings: null } : null;
  }
  async hasChangeInFlight(secretId: string) {
    return this.inFlight.has(secretId);
  }
  async dependentsOf(id: string) {
    return [...this.secrets.values()].filter((s) => s.privilegedSecretId === id).map((s) => ({ id: s.id, name: s.name }));
  }
  async detachDependents(id: string) {
    for (const s of this.secrets.values()) if (s.privilegedSecretId === id) s.privilegedSecretId = null;
  }
  async delete(id: string) {
    this.secrets.delete(id);
    this.versions = this.versions.filter((v) => v.secretId !== id);
  }
}

const admin: Actor = { id: 'k1', name: 'admin', roles: ['admin'], folderScopes: [] };
const scoped: Actor = { id: 'k2', name: 'team', roles: ['operator'], folderScopes: ['/team'] };

/** Seals nothing: the fields stay readable, so a spec can see what would be encrypted. */
const vault = {
  seal: (secretId: string, version: number, state: SecretVersionEntity['state'], fields: Record<string, string>) =>
    ({ id: `${secretId}-v${version}`, secretId, version, state, fields }) as unknown as SecretVersionEntity,
  accessKeyIdIndexes: (keyId: string) => [`hmac:${keyId}`],
} as unknown as VersionCipher;
const settings = { getGlobal: async () => DEFAULT_SETTINGS } as unknown as SettingsService;

/** The scheduler's default interval (KEYTURN_HEARTBEAT_INTERVAL_SECONDS), used when no setting names one. */
const config = { heartbeat: { intervalSeconds: 3600 } } as KeyturnConfig;

function setup() {
  const repo = new FakeSecretsRepository();
  const get = new GetSecretUseCase(repo.asRepository());
  // The jitter's random source, fixed per test: where in its interval a schedule starts is then known.
  const random = { next: 0.5 };
  const schedule = new HeartbeatSchedule(settings, config, () => random.next);
  return {
    repo,
    random,
    create: new CreateSecretUseCase(repo.asRepository(), vault, get, settings, schedule),
    update: new UpdateSecretUseCase(repo.asRepository(), get, settings, schedule),
    remove: new DeleteSecretUseCase(repo.asRepository()),
  };
}

const key = { type: SecretType.AwsIamKey, name: 'ci', username: 'ci', accountId: '111111111111', accessKeyId: 'AKIAIOSFODNN7EXAMPLE', secretAccessKey: 's'.repeat(40) };
const password = { type: SecretType.AwsIamConsolePassword, name: 'console', username: 'bob', accountId: '111111111111', password: 'Pw-1' };
const codeOf = (p: Promise<unknown>) => p.then(() => 'ok', (e: { code?: string }) => e.code ?? String(e));

describe('CreateSecretUseCase', () => {
  it('stores version 1 with the type’s fields; a key heartbeats, a console password does not', async () => {
    const { repo, create } = setup();
    const k = await create.execute(admin, key);
    expect(k).toMatchObject({ type: 'aws-iam-key', folder: '/', heartbeatStatus: 'unknown', currentVersion: 1, effectiveSettings: DEFAULT_SETTINGS });
    expect(repo.secrets.get(k.id)!.nextHeartbeatAt).toBeInstanceOf(Date);
    expect(repo.versions[0].fields).toEqual({ accessKeyId: key.accessKeyId, secretAccessKey: key.secretAccessKey });

    const p = await create.execute(admin, { ...password, privilegedSecretId: k.id });
    expect(p).toMatchObject({ heartbeatStatus: 'not-supported', nextHeartbeatAt: null, privilegedSecretId: k.id });
  });

  it('refuses a folder outside the caller’s scopes, another type’s field, a taken name and a stored key, writing nothing', async () => {
    const { repo, create } = setup();
    await expect(codeOf(create.execute(scoped, { ...key, folder: '/other' }))).resolves.toBe(ErrorCode.FOLDER_OUT_OF_SCOPE);
    await expect(codeOf(create.execute(admin, { ...key, password: 'x' }))).resolves.toBe(ErrorCode.FIELD_NOT_ALLOWED);
    await create.execute(admin, key);
    await expect(codeOf(create.execute(admin, { ...key, accessKeyId: 'AKIAOTHER0000000000X' }))).resolves.toBe(ErrorCode.SECRET_NAME_TAKEN);
    repo.holders.set(`hmac:${key.accessKeyId}`, { secretId: 'held', folder: '/' });
    await expect(codeOf(create.execute(admin, { ...key, name: 'again' }))).resolves.toBe(ErrorCode.ACCESS_KEY_ALREADY_STORED);
    expect(repo.secrets.size).toBe(1);
    expect(repo.versions).toHaveLength(1);
  });

  it('starts a key’s heartbeat schedule at a random point of its first interval (its own, else the default), so secrets created together do not come due together', async () => {
    const { repo, random, create } = setup();
    const at = (id: string) => repo.secrets.get(id)!.nextHeartbeatAt!.getTime();
    random.next = 0.25;
    let before = Date.now();
    const a = await create.execute(admin, key);
    expect(at(a.id)).toBeGreaterThanOrEqual(before + 900_000);
    expect(at(a.id)).toBeLessThanOrEqual(Date.now() + 900_000);
    random.next = 0.999;
    before = Date.now();
    const b = await create.execute(admin, { ...key, name: 'own', accessKeyId: 'AKIAOTHER0000000000X', settings: { heartbeatIntervalSeconds: 600 } });
    expect(at(b.id)).toBeGreaterThanOrEqual(before + 599_400);
    expect(at(b.id)).toBeLessThanOrEqual(Date.now() + 599_400);
    // A console password never heartbeats: no schedule at all.
    const p = await create.execute(admin, { ...password, privilegedSecretId: a.id });
    expect(repo.secrets.get(p.id)!.nextHeartbeatAt).toBeNull();
  });

  it('refuses a console password as a privileged account (its executor rule)', async () => {
    const { create } = setup();
    const k = await create.execute(admin, key);
    const p = await create.execute(admin, { ...password, privilegedSecretId: k.id });
    await expect(codeOf(create.execute(admin, { ...password, name: 'p2', privilegedSecretId: p.id }))).resolves.toBe(ErrorCode.PRIVILEGED_SECRET_WRONG_TYPE);
  });
});

describe('UpdateSecretUseCase', () => {
  it('renames, moves within scope and merges settings; refuses a taken name and a move out of scope', async () => {
    const { create, update } = setup();
    const a = await create.execute(scoped, { ...key, folder: '/team', settings: { passwordLength: 40 } });
    await create.execute(scoped, { ...key, name: 'taken', folder: '/team/x', accessKeyId: 'AKIAOTHER0000000000X' });
    const moved = await update.execute(scoped, a.id, { name: 'renamed', folder: '/team/y', settings: { passwordLength: null, autoChangeIntervalDays: 30 } });
    expect(moved).toMatchObject({ name: 'renamed', folder: '/team/y', settings: { autoChangeIntervalDays: 30 } });
    await expect(codeOf(update.execute(scoped, a.id, { name: 'taken', folder: '/team/x' }))).resolves.toBe(ErrorCode.SECRET_NAME_TAKEN);
    await expect(codeOf(update.execute(scoped, a.id, { folder: '/other' }))).resolves.toBe(ErrorCode.FOLDER_OUT_OF_SCOPE);
  });

  it('a new heartbeat interval restarts the schedule at a random point of that interval; other changes leave it alone', async () => {
    const { repo, random, create, update } = setup();
    const at = (id: string) => repo.secrets.get(id)!.nextHeartbeatAt!.getTime();
    const a = await create.execute(admin, key);
    const first = at(a.id);
    await update.execute(admin, a.id, { name: 'renamed', settings: { passwordLength: 40 } });
    expect(at(a.id)).toBe(first);
    random.next = 0.1;
    let before = Date.now();
    await update.execute(admin, a.id, { settings: { heartbeatIntervalSeconds: 86_400 } });
    expect(at(a.id)).toBeGreaterThanOrEqual(before + 8_640_000);
    expect(at(a.id)).toBeLessThanOrEqual(Date.now() + 8_640_000);
    // Removing the override goes back to the default interval, again spread over it.
    random.next = 0.5;
    before = Date.now();
    await update.execute(admin, a.id, { settings: { heartbeatIntervalSeconds: null } });
    expect(at(a.id)).toBeGreaterThanOrEqual(before + 1_800_000);
    expect(at(a.id)).toBeLessThanOrEqual(Date.now() + 1_800_000);
    // A console password has no schedule to restart.
    const p = await create.execute(admin, { ...password, privilegedSecretId: a.id });
    await update.execute(admin, p.id, { settings: { heartbeatIntervalSeconds: 600 } });
    expect(repo.secrets.get(p.id)!.nextHeartbeatAt).toBeNull();
  });

  it('a secret outside the caller’s scopes is not found', async () => {
    const { create, update } = setup();
    const a = await create.execute(admin, { ...key, folder: '/other' });
    await expect(codeOf(update.execute(scoped, a.id, { name: 'x' }))).resolves.toBe(ErrorCode.SECRET_NOT_FOUND);
  });
});

describe('DeleteSecretUseCase', () => {
  it('refuses while a change is in flight, and while others depend on it unless forced (which detaches them)', async () => {
    const { repo, create, remove } = setup();
    const k = await create.execute(admin, key);
    const p = await create.execute(admin, { ...password, privilegedSecretId: k.id });
    repo.inFlight.add(k.id);
    await expect(codeOf(remove.execute(admin, k.id, true))).resolves.toBe(ErrorCode.ROTATION_IN_PROGRESS);
    repo.inFlight.clear();
    await expect(codeOf(remove.execute(admin, k.id, false))).resolves.toBe(ErrorCode.SECRET_HAS_DEPENDENTS);
    await expect(remove.execute(admin, k.id, true)).resolves.toEqual({ detached: [p.id] });
    expect(repo.secrets.has(k.id)).toBe(false);
    expect(repo.secrets.get(p.id)!.privilegedSecretId).toBeNull();
  });
});
