import { createHash, randomBytes } from 'node:crypto';

export const TOKEN_PREFIX = 'kt_';
const TOKEN_SHAPE = /^kt_[A-Za-z0-9_-]{43}$/;

/** 256 random bits, base64url, behind a prefix that secret scanners can recognise. */
export function generateToken(): string {
  return TOKEN_PREFIX + randomBytes(32).toString('base64url');
}

export function hashToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

export function looksLikeToken(token: string): boolean {
  return TOKEN_SHAPE.test(token);
}

export function displayPrefix(token: string): string {
  return token.slice(0, 7);
}
