import { createHmac, hkdfSync, randomBytes } from 'node:crypto';
import {
  ACCESS_KEY_ID_INDEX,
  CryptoError,
  EnvelopeCipher,
  Keyring,
  type EncryptionContext,
  type Kek,
} from '@keyturn/crypto';

const kek = (id: string): Kek => ({ id, key: randomBytes(32) });
const KEY_ID = 'AKIAIOSFODNN7EXAMPLE';
const ctx: EncryptionContext = { secretId: '6f1c2d3e-0000-4000-8000-000000000001', version: 1 };

/** The construction written out from its description, independently of the library: HKDF-SHA256 then HMAC-SHA256. */
function expected(key: Buffer, value: string): string {
  const derived = Buffer.from(hkdfSync('sha256', key, Buffer.alloc(0), 'keyturn/blind-index/access-key-id/v1', 32));
  return createHmac('sha256', derived).update(value, 'utf8').digest('hex');
}

function caught(fn: () => unknown): CryptoError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(CryptoError);
    return e as CryptoError;
  }
  throw new Error('expected a CryptoError, but nothing was thrown');
}

describe('blind index (keyed HMAC of an access key id, under a key derived from a KEK)', () => {
  it('is HMAC-SHA256 under HKDF-SHA256(KEK, info "keyturn/blind-index/access-key-id/v1"), as hex', () => {
    const k1 = kek('k1');
    const cipher = new EnvelopeCipher(new Keyring(k1));
    const index = cipher.blindIndex(ACCESS_KEY_ID_INDEX, KEY_ID);
    expect(index).toBe(expected(k1.key, KEY_ID));
    expect(index).toMatch(/^[0-9a-f]{64}$/);
    // Deterministic, so it can be looked up; it is neither the key id nor a plain hash of it.
    expect(cipher.blindIndex(ACCESS_KEY_ID_INDEX, KEY_ID)).toBe(index);
    expect(index).not.toContain(KEY_ID);
    expect(index).not.toBe(createHmac('sha256', k1.key).update(KEY_ID).digest('hex'));
  });

  it('follows the KEK: another KEK gives another index, and each KEK can be asked for by id', () => {
    const k1 = kek('k1');
    const k2 = kek('k2');
    const rotating = new EnvelopeCipher(new Keyring(k2, [k1]));
    expect(rotating.blindIndex(ACCESS_KEY_ID_INDEX, KEY_ID)).toBe(expected(k2.key, KEY_ID));
    expect(rotating.blindIndex(ACCESS_KEY_ID_INDEX, KEY_ID, 'k1')).toBe(expected(k1.key, KEY_ID));
    // Every configured KEK, active first: what a lookup must query while a rewrap is under way.
    expect(rotating.blindIndexes(ACCESS_KEY_ID_INDEX, KEY_ID)).toEqual([expected(k2.key, KEY_ID), expected(k1.key, KEY_ID)]);
  });

  it('tells different key ids apart', () => {
    const cipher = new EnvelopeCipher(new Keyring(kek('k1')));
    expect(cipher.blindIndex(ACCESS_KEY_ID_INDEX, 'AKIAIOSFODNN7EXAMPLE')).not.toBe(cipher.blindIndex(ACCESS_KEY_ID_INDEX, 'AKIAIOSFODNN7EXAMPLF'));
  });

  it('fails with UNKNOWN_KEK for a KEK that is not configured', () => {
    const cipher = new EnvelopeCipher(new Keyring(kek('k1')));
    const err = caught(() => cipher.blindIndex(ACCESS_KEY_ID_INDEX, KEY_ID, 'k0'));
    expect(err.code).toBe('UNKNOWN_KEK');
    expect(err.message).toMatch(/KEK 'k0'/);
    expect(err.message).not.toContain(KEY_ID);
  });
});

describe('EnvelopeCipher.verifyDataKey (the start-up check: can this keyring really unwrap a stored data key?)', () => {
  it('passes for the KEK that sealed the version', () => {
    const k1 = kek('k1');
    const sealed = new EnvelopeCipher(new Keyring(k1)).seal(ctx, { accessKeyId: KEY_ID });
    expect(() => new EnvelopeCipher(new Keyring(kek('k2'), [k1])).verifyDataKey(ctx, sealed)).not.toThrow();
  });

  it('fails with DECRYPT_FAILED for the right KEK id with the wrong key bytes', () => {
    const sealed = new EnvelopeCipher(new Keyring(kek('k1'))).seal(ctx, { accessKeyId: KEY_ID });
    const err = caught(() => new EnvelopeCipher(new Keyring(kek('k1'))).verifyDataKey(ctx, sealed));
    expect(err.code).toBe('DECRYPT_FAILED');
    expect(err.details.kekId).toBe('k1');
  });

  it('fails with UNKNOWN_KEK for a KEK that is not configured', () => {
    const sealed = new EnvelopeCipher(new Keyring(kek('k1'))).seal(ctx, { accessKeyId: KEY_ID });
    const err = caught(() => new EnvelopeCipher(new Keyring(kek('k2'))).verifyDataKey(ctx, sealed));
    expect(err.code).toBe('UNKNOWN_KEK');
    expect(err.details.kekId).toBe('k1');
  });
});
