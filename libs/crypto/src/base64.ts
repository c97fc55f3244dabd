const BASE64 = /^(?:[A-Za-z0-9+/]*|[A-Za-z0-9_-]*)={0,2}$/;

/**
 * Strict base64 (standard or URL-safe alphabet, padding optional). Node's own
 * decoder silently skips characters it does not know, so a damaged value
 * would decode to fewer bytes instead of failing; this returns undefined.
 */
export function decodeBase64Strict(value: string): Buffer | undefined {
  if (!BASE64.test(value)) return undefined;
  const unpadded = value.replace(/=+$/, '');
  if (unpadded.length % 4 === 1) return undefined;
  if (value.length !== unpadded.length && value.length % 4 !== 0) return undefined;
  const bytes = Buffer.from(unpadded, 'base64');
  // Non-zero trailing bits mean the text is not the canonical encoding of any byte string.
  const canonical = bytes.toString(value.includes('-') || value.includes('_') ? 'base64url' : 'base64').replace(/=+$/, '');
  return canonical === unpadded ? bytes : undefined;
}
