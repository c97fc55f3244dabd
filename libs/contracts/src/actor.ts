export type Role = 'admin' | 'operator' | 'reader' | 'viewer' | 'auditor';

/** Who is making a request; every use case receives one (set by the API's auth guard). */
export interface Actor {
  /** API key id, or "system:<component>" for scheduled work. */
  id: string;
  name: string;
  roles: Role[];
  /** Folder prefixes the key is limited to; empty = every folder. */
  folderScopes: string[];
  requestId?: string;
}

export const SYSTEM_ACTOR = (component: string): Actor => ({
  id: `system:${component}`,
  name: component,
  roles: ['admin', 'auditor'],
  folderScopes: [],
});

/** True when `folder` is inside one of the actor's scopes (or the actor has none). */
export function inFolderScope(actor: Pick<Actor, 'folderScopes'>, folder: string): boolean {
  if (!actor.folderScopes.length) return true;
  return actor.folderScopes.some((scope) => folderWithin(folder, scope));
}

/** "/a/b" is within "/a" and "/a/b", not within "/ab". */
export function folderWithin(folder: string, prefix: string): boolean {
  if (prefix === '/') return true;
  return folder === prefix || folder.startsWith(prefix.endsWith('/') ? prefix : prefix + '/');
}
