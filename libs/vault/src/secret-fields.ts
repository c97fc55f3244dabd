import { SecretType } from '@keyturn/contracts';

/** The encrypted fields of each secret type; everything else about a secret is metadata. */
export const SECRET_FIELDS: Record<SecretType, readonly string[]> = {
  [SecretType.AwsIamKey]: ['accessKeyId', 'secretAccessKey'],
  [SecretType.AwsIamConsolePassword]: ['password'],
};

export const ALL_SECRET_FIELDS = new Set(Object.values(SECRET_FIELDS).flat());

/** "AKIA…WXYZ": enough to tell keys apart in a message, not enough to use or guess one. */
export function maskKeyId(accessKeyId: string): string {
  return accessKeyId.length > 8 ? `${accessKeyId.slice(0, 4)}…${accessKeyId.slice(-4)}` : '…';
}
