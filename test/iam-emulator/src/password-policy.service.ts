import { AwsError } from './aws-error.model.js';

/** The account password policy as UpdateAccountPasswordPolicy stores it. */
export interface PasswordPolicy {
  minimumPasswordLength: number;
  requireSymbols: boolean;
  requireNumbers: boolean;
  requireUppercaseCharacters: boolean;
  requireLowercaseCharacters: boolean;
  allowUsersToChangePassword: boolean;
  maxPasswordAge?: number;
  passwordReusePrevention?: number;
  hardExpiry: boolean;
}

/** IAM's symbol set for password policies. */
const SYMBOLS = "!@#$%^&*()_+-=[]{}|'";

const classes = (password: string) => ({
  upper: /[A-Z]/.test(password),
  lower: /[a-z]/.test(password),
  number: /[0-9]/.test(password),
  symbol: [...password].some((c) => SYMBOLS.includes(c)),
});

const violation = (message: string): AwsError => new AwsError('PasswordPolicyViolation', message, 400);

/** Passwords are 1 to 128 characters of tab, LF, CR or U+0020..U+00FF (IAM's documented pattern). */
export function checkPasswordShape(password: string, field: string): void {
  if (password.length < 1 || password.length > 128) {
    throw new AwsError(
      'ValidationError',
      `1 validation error detected: Value at '${field}' failed to satisfy constraint: Member must have length ${password.length < 1 ? 'greater than or equal to 1' : 'less than or equal to 128'}`,
      400,
    );
  }
  if (!/^[\u0009\u000A\u000D\u0020-\u00FF]+$/.test(password)) {
    throw new AwsError(
      'ValidationError',
      `1 validation error detected: Value at '${field}' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\u0009\\u000A\\u000D\\u0020-\\u00FF]+`,
      400,
    );
  }
}

/**
 * Checks a new password against the account policy, or against AWS's default policy when
 * none is set (at least 8 characters and at least three of: uppercase, lowercase, numbers,
 * symbols). Messages name the first rule broken, never the password.
 */
export function checkPassword(password: string, policy: PasswordPolicy | undefined): void {
  const has = classes(password);
  if (!policy) {
    if (password.length < 8) throw violation('Password should have a minimum length of 8');
    const count = [has.upper, has.lower, has.number, has.symbol].filter(Boolean).length;
    if (count < 3) {
      throw violation(
        'Password should include a minimum of three of the following mix of character types: uppercase, lowercase, numbers, and non-alphanumeric characters',
      );
    }
    return;
  }
  if (password.length < policy.minimumPasswordLength) {
    throw violation(`Password should have a minimum length of ${policy.minimumPasswordLength}`);
  }
  if (policy.requireLowercaseCharacters && !has.lower) throw violation('Password should have at least one lowercase letter');
  if (policy.requireUppercaseCharacters && !has.upper) throw violation('Password should have at least one uppercase letter');
  if (policy.requireNumbers && !has.number) throw violation('Password should have at least one number');
  if (policy.requireSymbols && !has.symbol) throw violation('Password should have at least one symbol');
}

export function checkReuse(password: string, history: readonly string[], policy: PasswordPolicy | undefined): void {
  const keep = policy?.passwordReusePrevention ?? 0;
  if (keep > 0 && history.slice(-keep).includes(password)) {
    throw violation('Password has been used before and cannot be reused');
  }
}
