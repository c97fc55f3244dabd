import { folderWithin, type Actor, type Role } from '@keyturn/contracts';
import { impliedRoles } from './roles.js';

/** What an API key grants: the part a caller may not exceed when it creates, lists or revokes keys. */
export interface KeyGrant {
  role: Role;
  folderScopes: string[];
}

/** Scopes as stored: no trailing slash, no duplicates. "/" stays "/". */
export function normaliseScopes(scopes: string[]): string[] {
  return [...new Set(scopes.map((s) => (s.length > 1 ? s.replace(/\/+$/, '') : s)))];
}

/** A key limited to "/" reaches every folder, exactly like an unscoped one. */
function unscoped(scopes: string[]): boolean {
  return scopes.length === 0 || scopes.includes('/');
}

/**
 * True when the caller could itself do everything `key` grants: its role is one
 * the caller's roles imply, and (for a scoped caller) every scope of the key
 * lies within one of the caller's. Otherwise a scoped admin could mint an
 * unscoped key and step out of its own folders.
 */
export function mayHoldKey(actor: Pick<Actor, 'roles' | 'folderScopes'>, key: KeyGrant): boolean {
  if (!actor.roles.some((r) => impliedRoles(r).includes(key.role))) return false;
  if (unscoped(actor.folderScopes)) return true;
  const scopes = normaliseScopes(key.folderScopes);
  if (unscoped(scopes)) return false;
  return scopes.every((s) => actor.folderScopes.some((own) => folderWithin(s, own)));
}
