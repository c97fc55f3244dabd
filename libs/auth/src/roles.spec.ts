import { impliedRoles, generateToken, hashToken, looksLikeToken, displayPrefix } from '@keyturn/auth';

describe('roles', () => {
  it('nest admin ⊃ operator ⊃ reader ⊃ viewer, with auditor apart', () => {
    expect(impliedRoles('admin').sort()).toEqual(['admin', 'auditor', 'operator', 'reader', 'viewer']);
    expect(impliedRoles('operator').sort()).toEqual(['operator', 'reader', 'viewer']);
    expect(impliedRoles('reader').sort()).toEqual(['reader', 'viewer']);
    expect(impliedRoles('viewer')).toEqual(['viewer']);
    expect(impliedRoles('auditor')).toEqual(['auditor']);
  });
});

describe('tokens', () => {
  it('are 256 random bits behind the kt_ prefix, and unique', () => {
    const a = generateToken();
    const b = generateToken();
    expect(a).toMatch(/^kt_[A-Za-z0-9_-]{43}$/);
    expect(Buffer.from(a.slice(3), 'base64url')).toHaveLength(32);
    expect(a).not.toBe(b);
    expect(looksLikeToken(a)).toBe(true);
    expect(looksLikeToken('kt_short')).toBe(false);
  });
  it('are stored as a SHA-256 hash and shown only by a short prefix', () => {
    const t = generateToken();
    expect(hashToken(t)).toMatch(/^[0-9a-f]{64}$/);
    expect(hashToken(t)).not.toContain(t.slice(3));
    expect(displayPrefix(t)).toHaveLength(7);
  });
});
