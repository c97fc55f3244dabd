import { randomInt } from 'node:crypto';
import type { PasswordPolicy } from '@keyturn/iam';
import { ErrorCode, KeyturnError } from '@keyturn/contracts';

export const UPPER = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ';
export const LOWER = 'abcdefghijklmnopqrstuvwxyz';
export const DIGITS = '0123456789';
/** The symbols AWS's password policy counts as "non-alphanumeric". */
export const SYMBOLS = "!@#$%^&*()_+-=[]{}|'";

export interface PasswordRequirements {
  length: number;
  upper: boolean;
  lower: boolean;
  digits: boolean;
  symbols: boolean;
  exclude: string;
}

export const AWS_MAX_PASSWORD = 128;

/**
 * Keyturn's own requirements merged with the account's policy. No policy set
 * means AWS's default (8 characters, three of four classes); where the policy
 * cannot be read, all four classes are used so any policy's classes are met.
 */
export function requirementsFor(
  policy: PasswordPolicy | null | 'unknown',
  own: { length: number; requireSymbols: boolean; exclude: string },
): PasswordRequirements {
  const p = policy === 'unknown' || policy === null ? null : policy;
  const min = Math.max(own.length, p?.minimumPasswordLength ?? 8);
  return {
    length: Math.min(min, AWS_MAX_PASSWORD),
    upper: true,
    lower: true,
    digits: true,
    symbols: own.requireSymbols || (p?.requireSymbols ?? false) || policy === 'unknown',
    exclude: own.exclude,
  };
}

/** A password from a cryptographic source with at least one of each required class, uniformly shuffled. */
export function generatePassword(req: PasswordRequirements, rand: (max: number) => number = randomInt): string {
  const strip = (set: string) => [...set].filter((c) => !req.exclude.includes(c)).join('');
  const classes = [
    req.upper && strip(UPPER),
    req.lower && strip(LOWER),
    req.digits && strip(DIGITS),
    req.symbols && strip(SYMBOLS),
  ].filter((c): c is string => typeof c === 'string');
  if (classes.some((c) => c.length === 0)) {
    // A setting, not a passing fault: retrying cannot help, and the person must know which one.
    throw new KeyturnError(ErrorCode.PASSWORD_SETTINGS_INVALID, { kind: 'class-excluded' });
  }
  if (req.length < classes.length) {
    throw new KeyturnError(ErrorCode.PASSWORD_SETTINGS_INVALID, { kind: 'too-short', length: req.length, classes: classes.length });
  }
  const all = classes.join('');
  const chars = classes.map((c) => c[rand(c.length)]);
  while (chars.length < req.length) chars.push(all[rand(all.length)]);
  // Fisher–Yates, so the guaranteed characters are not always first.
  for (let i = chars.length - 1; i > 0; i--) {
    const j = rand(i + 1);
    [chars[i], chars[j]] = [chars[j], chars[i]];
  }
  return chars.join('');
}

/** Whether `pw` meets an IAM password policy (for the checks in tests and before calling AWS). */
export function meetsPolicy(pw: string, p: PasswordPolicy): boolean {
  if (pw.length < p.minimumPasswordLength) return false;
  if (p.requireUppercaseCharacters && !/[A-Z]/.test(pw)) return false;
  if (p.requireLowercaseCharacters && !/[a-z]/.test(pw)) return false;
  if (p.requireNumbers && !/[0-9]/.test(pw)) return false;
  if (p.requireSymbols && ![...pw].some((c) => SYMBOLS.includes(c))) return false;
  return true;
}
