import { ErrorCode, KeyturnError } from '@keyturn/contracts';

/** Keyset cursors: the last id of a page, opaque to the caller. */
export function encodeCursor(id: string): string {
  return Buffer.from(id, 'utf8').toString('base64url');
}

export function decodeCursor(cursor: string): string {
  const id = Buffer.from(cursor, 'base64url').toString('utf8');
  if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(id)) {
    throw new KeyturnError(ErrorCode.INVALID_CURSOR);
  }
  return id;
}
