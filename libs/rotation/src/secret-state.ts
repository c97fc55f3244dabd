import type { EntityManager } from 'typeorm';
import { In } from 'typeorm';
import { SecretEntity, SecretVersionEntity } from '@keyturn/store';
import type { SecretsService } from '@keyturn/vault';

export interface OpenVersion {
  row: SecretVersionEntity;
  fields: Record<string, string>;
}

export interface SecretState {
  secret: SecretEntity;
  current?: OpenVersion;
  previous?: OpenVersion;
  pending?: OpenVersion;
}

/** The secret with its live versions decrypted (current, previous, pending). */
export async function loadSecretState(m: EntityManager, secrets: SecretsService, secretId: string): Promise<SecretState | null> {
  const secret = await m.findOneBy(SecretEntity, { id: secretId });
  if (!secret) return null;
  const rows = await m.findBy(SecretVersionEntity, { secretId, state: In(['current', 'previous', 'pending']) });
  const state: SecretState = { secret };
  for (const row of rows) {
    state[row.state as 'current' | 'previous' | 'pending'] = { row, fields: secrets.open(row) };
  }
  return state;
}

export const credsOf = (v: OpenVersion) => ({
  accessKeyId: v.fields.accessKeyId,
  secretAccessKey: v.fields.secretAccessKey,
});
