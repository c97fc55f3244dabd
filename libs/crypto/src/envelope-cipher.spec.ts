import { randomBytes } from 'node:crypto';
import {
  CryptoError,
  EnvelopeCipher,
  Keyring,
  type CryptoErrorCode,
  type EncryptionContext,
  type Kek,
  type SealedVersion,
} from '@keyturn/crypto';

const kek = (id: string): Kek => ({ id, key: randomBytes(32) });
const ctx: EncryptionContext = { secretId: '6f1c2d3e-0000-4000-8000-000000000001', version: 3 };
const FIELDS = {
  accessKeyId: 'AKIAIOSFODNN7EXAMPLE',
  secretAccessKey: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY',
};

function caught(fn: () => unknown): CryptoError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(CryptoError);
    return e as CryptoError;
  }
  throw new Error('expected a CryptoError, but nothing was thrown');
}

function expectFailure(fn: () => unknown, code: CryptoErrorCode, pattern?: RegExp): CryptoError {
  const err = caught(fn);
  expect(err.code).toBe(code);
  if (pattern) expect(err.message).toMatch(pattern);
  // Never a secret in the message, whatever failed.
  for (const value of Object.values(FIELDS)) expect(err.message).not.toContain(value);
  return err;
}

/** Flips one bit of a base64 value's first byte, keeping its length. */
function flip(b64: string, byte = 0): string {
  const buf = Buffer.from(b64, 'base64');
  buf[byte] ^= 0x01;
  return buf.toString('base64');
}

const clone = (s: SealedVersion): SealedVersion => JSON.parse(JSON.stringify(s)) as SealedVersion;

describe('EnvelopeCipher', () => {
  let active: Kek;
  let cipher: EnvelopeCipher;

  beforeEach(() => {
    active = kek('k1');
    cipher = new EnvelopeCipher(new Keyring(active));
  });

  describe('round trip', () => {
    it('opens what it sealed, field by field and all at once', () => {
      const sealed = cipher.seal(ctx, FIELDS);
      expect(sealed.kekId).toBe('k1');
      expect(Object.keys(sealed.fields).sort()).toEqual(['accessKeyId', 'secretAccessKey']);
      expect(cipher.open(ctx, sealed)).toEqual(FIELDS);
      expect(cipher.openField(ctx, sealed, 'secretAccessKey')).toBe(FIELDS.secretAccessKey);
    });

    it('handles unicode, the empty string and 128-character passwords', () => {
      const fields = {
        unicode: 'pässwörd-密码-🔑-\u0000-end',
        empty: '',
        long: Array.from({ length: 128 }, (_, i) => String.fromCharCode(33 + ((i * 7) % 94))).join(''),
      };
      expect(fields.long).toHaveLength(128);
      const sealed = cipher.seal(ctx, fields);
      expect(cipher.open(ctx, sealed)).toEqual(fields);
      expect(cipher.openField(ctx, sealed, 'empty')).toBe('');
    });

    it('survives a JSON round trip (what the store does) and holds no plaintext', () => {
      const json = JSON.stringify(cipher.seal(ctx, FIELDS));
      expect(json).not.toContain(FIELDS.accessKeyId);
      expect(json).not.toContain(FIELDS.secretAccessKey);
      expect(json).not.toContain(Buffer.from(FIELDS.secretAccessKey).toString('base64').slice(0, 16));
      expect(cipher.open(ctx, JSON.parse(json) as SealedVersion)).toEqual(FIELDS);
    });

    it('uses 12-byte IVs, 16-byte tags and a 60-byte wrapped key', () => {
      const sealed = cipher.seal(ctx, FIELDS);
      expect(Buffer.from(sealed.wrappedKey, 'base64')).toHaveLength(60);
      for (const f of Object.values(sealed.fields)) {
        expect(Buffer.from(f.iv, 'base64')).toHaveLength(12);
        expect(Buffer.from(f.tag, 'base64')).toHaveLength(16);
      }
      expect(Buffer.from(sealed.fields.secretAccessKey.ct, 'base64')).toHaveLength(FIELDS.secretAccessKey.length);
    });

    it('uses a fresh data key and fresh IVs: two seals of the same plaintext differ', () => {
      const a = cipher.seal(ctx, FIELDS);
      const b = cipher.seal(ctx, FIELDS);
      expect(a.wrappedKey).not.toBe(b.wrappedKey);
      expect(a.fields.secretAccessKey.iv).not.toBe(b.fields.secretAccessKey.iv);
      expect(a.fields.secretAccessKey.ct).not.toBe(b.fields.secretAccessKey.ct);
      // Different data keys: a's field cannot be opened under b's data key.
      const mixed = clone(b);
      mixed.fields.secretAccessKey = a.fields.secretAccessKey;
      expectFailure(() => cipher.openField(ctx, mixed, 'secretAccessKey'), 'DECRYPT_FAILED');
      const ivs = new Set([a, b].flatMap((s) => Object.values(s.fields).map((f) => f.iv)));
      expect(ivs.size).toBe(4);
    });
  });

  describe('tampering', () => {
    const part = ['ct', 'iv', 'tag'] as const;
    it.each(part)('fails with DECRYPT_FAILED when a field %s is tampered', (p) => {
      const sealed = clone(cipher.seal(ctx, FIELDS));
      sealed.fields.secretAccessKey[p] = flip(sealed.fields.secretAccessKey[p]);
      expectFailure(
        () => cipher.open(ctx, sealed),
        'DECRYPT_FAILED',
        new RegExp(
          `^cannot decrypt field 'secretAccessKey' of secret ${ctx.secretId} version 3: authentication failed \\(tampered, moved from another row, or wrong key\\)$`,
        ),
      );
      // The untouched field still opens: one bad field does not poison the others.
      expect(cipher.openField(ctx, sealed, 'accessKeyId')).toBe(FIELDS.accessKeyId);
    });

    it.each([0, 12, 30, 44, 59])('fails with DECRYPT_FAILED when byte %i of the wrapped key is tampered', (byte) => {
      const sealed = clone(cipher.seal(ctx, FIELDS));
      sealed.wrappedKey = flip(sealed.wrappedKey, byte);
      expectFailure(() => cipher.open(ctx, sealed), 'DECRYPT_FAILED', /cannot unwrap the data key of secret .* with KEK 'k1'/);
    });

    it('refuses a truncated tag instead of checking fewer bytes', () => {
      const sealed = clone(cipher.seal(ctx, FIELDS));
      sealed.fields.secretAccessKey.tag = Buffer.from(sealed.fields.secretAccessKey.tag, 'base64')
        .subarray(0, 4)
        .toString('base64');
      expectFailure(() => cipher.open(ctx, sealed), 'MALFORMED_CIPHERTEXT', /field 'secretAccessKey'/);
    });

    it('fails with MALFORMED_CIPHERTEXT on malformed values', () => {
      const base = cipher.seal(ctx, FIELDS);
      const cases: Array<(s: SealedVersion) => void> = [
        (s) => (s.wrappedKey = 'not base64!'),
        (s) => (s.wrappedKey = Buffer.from(s.wrappedKey, 'base64').subarray(1).toString('base64')),
        (s) => (s.fields.secretAccessKey.iv = 'AAAA'),
        (s) => (s.fields.secretAccessKey.ct = '%%%'),
        (s) => delete (s.fields.secretAccessKey as Partial<SealedVersion['fields'][string]>).tag,
        (s) => ((s as { fields: unknown }).fields = null),
        (s) => ((s as { kekId: unknown }).kekId = 7),
      ];
      for (const mutate of cases) {
        const sealed = clone(base);
        mutate(sealed);
        expectFailure(() => cipher.open(ctx, sealed), 'MALFORMED_CIPHERTEXT');
      }
    });

    it('fails with MALFORMED_CIPHERTEXT when asked for a field that is not there', () => {
      const sealed = cipher.seal(ctx, FIELDS);
      expectFailure(() => cipher.openField(ctx, sealed, 'password'), 'MALFORMED_CIPHERTEXT', /has no field 'password'/);
      expectFailure(() => cipher.openField(ctx, sealed, 'toString'), 'MALFORMED_CIPHERTEXT');
    });
  });

  describe('binding to secret, version and field', () => {
    it('fails when a field is moved to another field name', () => {
      const sealed = clone(cipher.seal(ctx, FIELDS));
      sealed.fields.accessKeyId = sealed.fields.secretAccessKey;
      expectFailure(() => cipher.openField(ctx, sealed, 'accessKeyId'), 'DECRYPT_FAILED', /field 'accessKeyId'/);
    });

    it('fails when fields are swapped between names', () => {
      const sealed = clone(cipher.seal(ctx, FIELDS));
      [sealed.fields.accessKeyId, sealed.fields.secretAccessKey] = [sealed.fields.secretAccessKey, sealed.fields.accessKeyId];
      expectFailure(() => cipher.open(ctx, sealed), 'DECRYPT_FAILED');
    });

    it('fails when a field is moved into another secret', () => {
      const other = { secretId: 'other-secret', version: 3 };
      const victim = clone(cipher.seal(other, { secretAccessKey: 'victim' }));
      victim.fields.secretAccessKey = cipher.seal(ctx, FIELDS).fields.secretAccessKey;
      expectFailure(() => cipher.openField(other, victim, 'secretAccessKey'), 'DECRYPT_FAILED');
    });

    it('fails when a field is moved into another version of the same secret', () => {
      const v4 = { ...ctx, version: 4 };
      const next = clone(cipher.seal(v4, { secretAccessKey: 'new' }));
      next.fields.secretAccessKey = cipher.seal(ctx, FIELDS).fields.secretAccessKey;
      expectFailure(() => cipher.openField(v4, next, 'secretAccessKey'), 'DECRYPT_FAILED');
    });

    it('fails when a whole sealed version is read as another secret or version', () => {
      const sealed = cipher.seal(ctx, FIELDS);
      expectFailure(
        () => cipher.open({ ...ctx, secretId: 'another-secret' }, sealed),
        'DECRYPT_FAILED',
        /cannot unwrap the data key of secret another-secret version 3/,
      );
      expectFailure(() => cipher.open({ ...ctx, version: 2 }, sealed), 'DECRYPT_FAILED', /version 2/);
    });

    it('does not confuse contexts whose parts concatenate to the same text', () => {
      const a = cipher.seal({ secretId: 'ab', version: 12 }, { f: 'x' });
      expectFailure(() => cipher.open({ secretId: 'ab1', version: 2 }, a), 'DECRYPT_FAILED');
    });

    it('refuses an invalid context before touching any key', () => {
      expect(() => cipher.seal({ secretId: '', version: 1 }, FIELDS)).toThrow(TypeError);
      expect(() => cipher.seal({ secretId: 's', version: 1.5 }, FIELDS)).toThrow(TypeError);
      expect(() => cipher.seal({ secretId: 's', version: -1 }, FIELDS)).toThrow(TypeError);
      expect(() => cipher.seal(ctx, { '': 'x' })).toThrow(TypeError);
    });
  });

  describe('keys', () => {
    it('fails with DECRYPT_FAILED under a KEK with the same id but a different key', () => {
      const sealed = cipher.seal(ctx, FIELDS);
      const impostor = new EnvelopeCipher(new Keyring(kek('k1')));
      expectFailure(() => impostor.open(ctx, sealed), 'DECRYPT_FAILED', /KEK 'k1'/);
    });

    it('fails with UNKNOWN_KEK, naming the KEK and the settings, when the KEK is not configured', () => {
      const sealed = cipher.seal(ctx, FIELDS);
      const other = new EnvelopeCipher(new Keyring(kek('k2')));
      const err = expectFailure(() => other.open(ctx, sealed), 'UNKNOWN_KEK', /KEK 'k1'/);
      expect(err.message).toMatch(/KEYTURN_MASTER_KEY/);
      expect(err.message).toMatch(/KEYTURN_PREVIOUS_MASTER_KEYS/);
      expect(err.details).toEqual({ secretId: ctx.secretId, version: 3, kekId: 'k1' });
    });

    it('never puts key bytes in an error message', () => {
      const sealed = cipher.seal(ctx, FIELDS);
      const err = caught(() => new EnvelopeCipher(new Keyring(kek('k1'))).open(ctx, sealed));
      expect(err.message).not.toContain(active.key.toString('base64').slice(0, 8));
      expect(err.message).not.toContain(active.key.toString('hex').slice(0, 8));
      expect(err.message).not.toContain(sealed.wrappedKey.slice(0, 8));
    });
  });

  describe('rewrap', () => {
    it('re-wraps under the new active KEK, keeps field ciphertexts identical, and needs only the new KEK', () => {
      const old = active;
      const sealed = cipher.seal(ctx, FIELDS);
      const next = kek('k2');
      const rotating = new EnvelopeCipher(new Keyring(next, [old]));
      expect(rotating.needsRewrap(sealed)).toBe(true);
      // Before the rewrap, the old KEK is still needed.
      expect(rotating.open(ctx, sealed)).toEqual(FIELDS);

      const rewrapped = rotating.rewrap(ctx, sealed);
      expect(rewrapped.kekId).toBe('k2');
      expect(rewrapped.wrappedKey).not.toBe(sealed.wrappedKey);
      expect(rewrapped.fields).toEqual(sealed.fields);
      expect(rotating.needsRewrap(rewrapped)).toBe(false);

      const newOnly = new EnvelopeCipher(new Keyring(next));
      expect(newOnly.open(ctx, rewrapped)).toEqual(FIELDS);
      expectFailure(() => newOnly.open(ctx, sealed), 'UNKNOWN_KEK', /KEK 'k1'/);
      // The old KEK alone can no longer read the re-wrapped row.
      expectFailure(() => cipher.open(ctx, rewrapped), 'UNKNOWN_KEK', /KEK 'k2'/);
    });

    it('binds the re-wrapped key to the same secret and version', () => {
      const sealed = cipher.seal(ctx, FIELDS);
      const rotating = new EnvelopeCipher(new Keyring(kek('k2'), [active]));
      const rewrapped = rotating.rewrap(ctx, sealed);
      expectFailure(() => rotating.open({ ...ctx, secretId: 'elsewhere' }, rewrapped), 'DECRYPT_FAILED');
    });

    it('refuses to rewrap a tampered or foreign wrapped key', () => {
      const sealed = clone(cipher.seal(ctx, FIELDS));
      const rotating = new EnvelopeCipher(new Keyring(kek('k2'), [active]));
      expectFailure(() => rotating.rewrap({ ...ctx, version: 9 }, sealed), 'DECRYPT_FAILED');
      sealed.wrappedKey = flip(sealed.wrappedKey, 20);
      expectFailure(() => rotating.rewrap(ctx, sealed), 'DECRYPT_FAILED');
    });

    it('does not modify the sealed value it was given', () => {
      const sealed = cipher.seal(ctx, FIELDS);
      const before = clone(sealed);
      new EnvelopeCipher(new Keyring(kek('k2'), [active])).rewrap(ctx, sealed);
      expect(sealed).toEqual(before);
    });
  });
});
