import { randomBytes } from 'node:crypto';
import { ACCESS_KEY_ID_INDEX, EnvelopeCipher, Keyring, type Kek } from '@keyturn/crypto';
import type { SecretVersionEntity } from '@keyturn/store';
import { envelopeVersionCipher } from './version-cipher.js';

// The API and the worker seal versions through this one cipher: openable by
// anyone with the keyring, the key hint masked, the blind index under the KEK
// that wraps the version.

const kek = (id: string): Kek => ({ id, key: randomBytes(32) });
const FIELDS = { accessKeyId: 'AKIAIOSFODNN7EXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY' };

describe('envelopeVersionCipher', () => {
  const old = kek('k0');
  const active = kek('k1');
  const envelope = new EnvelopeCipher(new Keyring(active, [old]));
  const cipher = envelopeVersionCipher(envelope);

  it('seals a version the envelope cipher opens, bound to its secret and version', () => {
    const row = cipher.seal('secret-1', 7, 'pending', FIELDS);
    expect(row).toMatchObject({ secretId: 'secret-1', version: 7, state: 'pending', kekId: 'k1', keyHint: 'AKIA…MPLE' });
    expect(row.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(JSON.stringify(row)).not.toContain(FIELDS.secretAccessKey);
    expect(envelope.open({ secretId: 'secret-1', version: 7 }, row)).toEqual(FIELDS);
    expect(cipher.open(row as SecretVersionEntity)).toEqual(FIELDS);
  });

  it('indexes the access key id under the KEK that wraps the version, and looks it up under every KEK', () => {
    const row = cipher.seal('secret-1', 1, 'current', FIELDS);
    expect(row.keyIdHmac).toBe(envelope.blindIndex(ACCESS_KEY_ID_INDEX, FIELDS.accessKeyId, 'k1'));
    expect(cipher.accessKeyIdIndexes(FIELDS.accessKeyId)).toEqual(envelope.blindIndexes(ACCESS_KEY_ID_INDEX, FIELDS.accessKeyId));
    expect(cipher.accessKeyIdIndexes(FIELDS.accessKeyId)).toHaveLength(2);
  });

  it('a password has no key hint and no blind index', () => {
    const row = cipher.seal('secret-2', 1, 'pending', { password: 'p' });
    expect(row).toMatchObject({ keyHint: null, keyIdHmac: null });
  });
});
