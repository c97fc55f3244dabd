import { ErrorCode, SecretType, type Actor } from '@keyturn/contracts';
import type { SecretEntity, SecretsApiRepository } from '@keyturn/store';
import { assertAssociation } from './association.js';

const actor = (folderScopes: string[] = []): Actor => ({ id: 'k1', name: 'k', roles: ['operator'], folderScopes });

/** The two reads the walk makes, over an in-memory table. */
function repo(rows: Partial<SecretEntity>[]): SecretsApiRepository {
  const byId = new Map(rows.map((r) => [r.id!, r as SecretEntity]));
  return {
    findById: async (id: string) => byId.get(id) ?? null,
    privilegedSecretIdOf: async (id: string) => byId.get(id)?.privilegedSecretId ?? null,
  } as unknown as SecretsApiRepository;
}

const key = (id: string, over: Partial<SecretEntity> = {}): Partial<SecretEntity> => ({
  id,
  type: SecretType.AwsIamKey,
  accountId: '111111111111',
  folder: '/',
  privilegedSecretId: null,
  ...over,
});

const codeOf = (p: Promise<unknown>) => p.then(() => 'ok', (e: { code?: string }) => e.code);

describe('assertAssociation', () => {
  it('accepts a key of the same account, visible to the caller', async () => {
    await expect(codeOf(assertAssociation(repo([key('p')]), actor(), 'self', '111111111111', 'p'))).resolves.toBe('ok');
  });

  it('refuses the secret itself', async () => {
    await expect(codeOf(assertAssociation(repo([key('self')]), actor(), 'self', '111111111111', 'self'))).resolves.toBe(ErrorCode.ASSOCIATION_CYCLE);
  });

  it('a privileged secret outside the caller’s folders is not found', async () => {
    const r = repo([key('p', { folder: '/other' })]);
    await expect(codeOf(assertAssociation(r, actor(['/mine']), 'self', '111111111111', 'p'))).resolves.toBe(ErrorCode.PRIVILEGED_SECRET_NOT_FOUND);
    await expect(codeOf(assertAssociation(r, actor(), 'self', '111111111111', 'missing'))).resolves.toBe(ErrorCode.PRIVILEGED_SECRET_NOT_FOUND);
  });

  it('refuses a type whose executor rule does not let it change others', async () => {
    const r = repo([key('p', { type: SecretType.AwsIamConsolePassword })]);
    await expect(codeOf(assertAssociation(r, actor(), 'self', '111111111111', 'p'))).resolves.toBe(ErrorCode.PRIVILEGED_SECRET_WRONG_TYPE);
  });

  it('refuses a key of another AWS account', async () => {
    await expect(codeOf(assertAssociation(repo([key('p')]), actor(), 'self', '222222222222', 'p'))).resolves.toBe(ErrorCode.PRIVILEGED_SECRET_OTHER_ACCOUNT);
  });

  it('walks the chain and refuses one that comes back to the secret', async () => {
    const r = repo([key('a', { privilegedSecretId: 'b' }), key('b', { privilegedSecretId: 'self' }), key('self')]);
    await expect(codeOf(assertAssociation(r, actor(), 'self', '111111111111', 'a'))).resolves.toBe(ErrorCode.ASSOCIATION_CYCLE);
  });

  it('stops walking a cycle that does not include the secret (bad existing data)', async () => {
    const r = repo([key('a', { privilegedSecretId: 'b' }), key('b', { privilegedSecretId: 'a' })]);
    await expect(codeOf(assertAssociation(r, actor(), 'self', '111111111111', 'a'))).resolves.toBe('ok');
  });
});
