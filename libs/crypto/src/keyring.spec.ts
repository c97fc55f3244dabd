import { randomBytes } from 'node:crypto';
import { CryptoError, Keyring, generateMasterKey, keyringFromStrings, type Kek } from '@keyturn/crypto';

const kek = (id: string): Kek => ({ id, key: randomBytes(32) });

describe('Keyring', () => {
  it('returns the active and previous KEKs by id', () => {
    const active = kek('new');
    const old = kek('old');
    const ring = new Keyring(active, [old]);
    expect(ring.activeId).toBe('new');
    expect(ring.get('new').key.equals(active.key)).toBe(true);
    expect(ring.get('old').key.equals(old.key)).toBe(true);
    expect(ring.ids).toEqual(['new', 'old']);
  });

  it('fails on an unknown id with UNKNOWN_KEK naming the id and the settings', () => {
    const ring = new Keyring(kek('k1'));
    let caught: unknown;
    try {
      ring.get('k0');
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(CryptoError);
    expect((caught as CryptoError).code).toBe('UNKNOWN_KEK');
    expect((caught as CryptoError).message).toMatch(/KEK 'k0'.*not configured/);
    expect((caught as CryptoError).message).toMatch(/KEYTURN_MASTER_KEY/);
    expect((caught as CryptoError).message).toMatch(/KEYTURN_PREVIOUS_MASTER_KEYS/);
  });

  it('keeps its own copy of the keys', () => {
    const active = kek('k1');
    const copy = Buffer.from(active.key);
    const ring = new Keyring(active);
    active.key.fill(0);
    expect(ring.get('k1').key.equals(copy)).toBe(true);
  });

  it('accepts the same KEK twice but refuses two keys under one id', () => {
    const a = kek('k1');
    expect(new Keyring(a, [{ id: 'k1', key: Buffer.from(a.key) }]).ids).toEqual(['k1']);
    expect(() => new Keyring(a, [kek('k1')])).toThrow(/KEK id 'k1' is used by two different keys/);
  });

  it('refuses a KEK of the wrong size or with a bad id', () => {
    expect(() => new Keyring({ id: 'k1', key: randomBytes(16) })).toThrow(
      expect.objectContaining({ code: 'INVALID_MASTER_KEY' }),
    );
    expect(() => new Keyring(kek('k1'), [{ id: 'no spaces', key: randomBytes(32) }])).toThrow(
      expect.objectContaining({ code: 'INVALID_MASTER_KEY' }),
    );
  });
});

describe('keyringFromStrings', () => {
  it('parses the active and previous keys, naming the setting on error', () => {
    const active = generateMasterKey();
    const previous = generateMasterKey();
    const ring = keyringFromStrings(active, [previous]);
    expect(ring.activeId).toBe(active.split(':')[0]);
    expect(ring.has(previous.split(':')[0])).toBe(true);
    expect(() => keyringFromStrings(active, ['x:short'])).toThrow(/^KEYTURN_PREVIOUS_MASTER_KEYS entry #1: /);
    expect(() => keyringFromStrings('x:short')).toThrow(/^KEYTURN_MASTER_KEY: /);
  });
});
