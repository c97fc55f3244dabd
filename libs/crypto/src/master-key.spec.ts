import { createHash, randomBytes } from 'node:crypto';
import { CryptoError, generateMasterKey, parseMasterKey } from '@keyturn/crypto';

function expectInvalid(value: string, pattern: RegExp): CryptoError {
  let caught: unknown;
  try {
    parseMasterKey(value, 'KEYTURN_MASTER_KEY');
  } catch (e) {
    caught = e;
  }
  expect(caught).toBeInstanceOf(CryptoError);
  const err = caught as CryptoError;
  expect(err.code).toBe('INVALID_MASTER_KEY');
  expect(err.message).toMatch(/^KEYTURN_MASTER_KEY: /);
  expect(err.message).toMatch(pattern);
  return err;
}

describe('parseMasterKey', () => {
  const key = randomBytes(32);
  const b64 = key.toString('base64');

  it('accepts "<id>:<base64>"', () => {
    const kek = parseMasterKey(`prod-2024_01:${b64}`);
    expect(kek.id).toBe('prod-2024_01');
    expect(kek.key.equals(key)).toBe(true);
  });

  it('accepts a bare base64 key and derives its id from sha256 of the key', () => {
    const kek = parseMasterKey(b64);
    const expected = 'k' + createHash('sha256').update(key).digest('hex').slice(0, 8);
    expect(kek.id).toBe(expected);
    expect(kek.id).toMatch(/^k[0-9a-f]{8}$/);
    expect(kek.key.equals(key)).toBe(true);
  });

  it('accepts unpadded and URL-safe base64 and surrounding whitespace', () => {
    expect(parseMasterKey(`a:${b64.replace(/=+$/, '')}`).key.equals(key)).toBe(true);
    expect(parseMasterKey(`a:${key.toString('base64url')}`).key.equals(key)).toBe(true);
    expect(parseMasterKey(`  a:${b64}\n`).key.equals(key)).toBe(true);
  });

  it('accepts a 32-character id and rejects 33', () => {
    expect(parseMasterKey(`${'x'.repeat(32)}:${b64}`).id).toBe('x'.repeat(32));
    expectInvalid(`${'x'.repeat(33)}:${b64}`, /key id .* 1-32 characters/);
  });

  it('rejects a bad id without echoing the value', () => {
    for (const value of [`:${b64}`, `bad id:${b64}`, `k.1:${b64}`, `k/1:${b64}`, `${b64}:${b64}`]) {
      const err = expectInvalid(value, /key id/);
      expect(err.message).not.toContain(b64);
      expect(err.message).not.toContain(b64.slice(0, 12));
    }
  });

  it('rejects bad base64', () => {
    const damaged = b64.slice(0, 10) + '!' + b64.slice(11);
    expectInvalid(`a:${damaged}`, /not valid base64/);
    expectInvalid(`a:${b64} ${b64}`, /not valid base64/);
    expectInvalid(`a:${b64.slice(0, -1)}==`, /not valid base64/);
    expectInvalid('a:', /not valid base64/);
    const err = expectInvalid(damaged, /not valid base64/);
    expect(err.message).not.toContain(damaged.slice(0, 12));
  });

  it('rejects a key that is not exactly 32 bytes', () => {
    expectInvalid(`a:${randomBytes(16).toString('base64')}`, /exactly 32 bytes, got 16/);
    expectInvalid(randomBytes(31).toString('base64'), /exactly 32 bytes, got 31/);
    expectInvalid(`a:${randomBytes(33).toString('base64')}`, /exactly 32 bytes, got 33/);
  });

  it('rejects an empty value', () => {
    expectInvalid('', /is empty/);
    expectInvalid('   ', /is empty/);
  });

  it('names "master key" when no source is given', () => {
    expect(() => parseMasterKey('nope')).toThrow(/^master key: /);
  });
});

describe('generateMasterKey', () => {
  it('returns a fresh "<id>:<base64>" that parses back to a 32-byte key', () => {
    const a = generateMasterKey();
    const b = generateMasterKey();
    expect(a).toMatch(/^k[0-9a-f]{8}:[A-Za-z0-9+/]{43}=$/);
    expect(a).not.toBe(b);
    const kek = parseMasterKey(a);
    expect(kek.key).toHaveLength(32);
    // The id is the one a bare key would get, so both forms name the key the same way.
    expect(parseMasterKey(a.split(':')[1]).id).toBe(kek.id);
  });
});
