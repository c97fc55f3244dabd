import { DIGITS, LOWER, SYMBOLS, UPPER, generatePassword, meetsPolicy, requirementsFor } from './password-generator.js';

const policy32 = {
  minimumPasswordLength: 32,
  requireSymbols: true,
  requireNumbers: true,
  requireUppercaseCharacters: true,
  requireLowercaseCharacters: true,
  allowUsersToChangePassword: true,
};

describe('password generation', () => {
  it('meets a policy demanding 32 characters with symbols, every time', () => {
    const req = requirementsFor(policy32, { length: 16, requireSymbols: false, exclude: '' });
    expect(req.length).toBe(32);
    for (let i = 0; i < 500; i++) {
      const pw = generatePassword(req);
      expect(pw).toHaveLength(32);
      expect(meetsPolicy(pw, policy32)).toBe(true);
    }
  });

  it('uses all four classes when the policy cannot be read, and never exceeds AWS’s 128', () => {
    const req = requirementsFor('unknown', { length: 200, requireSymbols: false, exclude: '' });
    expect(req).toMatchObject({ length: 128, upper: true, lower: true, digits: true, symbols: true });
  });

  it('never uses an excluded character', () => {
    const exclude = 'O0Il1|';
    const req = requirementsFor(null, { length: 64, requireSymbols: true, exclude });
    for (let i = 0; i < 200; i++) {
      const pw = generatePassword(req);
      expect([...pw].some((c) => exclude.includes(c))).toBe(false);
    }
  });

  it('refuses exclusions that empty a required class, naming the setting (not a retryable fault)', () => {
    expect(() => generatePassword(requirementsFor(null, { length: 20, requireSymbols: false, exclude: DIGITS }))).toThrow(/character class/);
    let err: unknown;
    try {
      generatePassword(requirementsFor(null, { length: 20, requireSymbols: false, exclude: DIGITS }));
    } catch (e) {
      err = e;
    }
    expect(err).toMatchObject({ code: 'PASSWORD_SETTINGS_INVALID', retryable: false });
    expect((err as Error).message).toContain('passwordExcludeCharacters');
  });

  it('draws from the whole alphabet (not a fixed pattern)', () => {
    const seen = new Set<string>();
    const req = requirementsFor(null, { length: 128, requireSymbols: true, exclude: '' });
    for (let i = 0; i < 50; i++) for (const c of generatePassword(req)) seen.add(c);
    for (const c of UPPER + LOWER + DIGITS + SYMBOLS) expect(seen.has(c)).toBe(true);
    expect(generatePassword(req)).not.toBe(generatePassword(req));
  });
});
