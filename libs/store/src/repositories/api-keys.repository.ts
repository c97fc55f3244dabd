import type { EntityManager } from 'typeorm';
import type { Role } from '@keyturn/contracts';
import { API_KEY_BY_TOKEN_HASH_SQL, API_KEY_TOUCH_SQL, sqlOn, type Sql } from './read-paths.sql.js';

/** What authentication needs of an API key (a plain row, no entity). */
export interface AuthKeyRow {
  id: string;
  name: string;
  role: Role;
  folderScopes: string[];
  lastUsedAt: Date | null;
  revokedAt: Date | null;
}

/**
 * The API-key lookup of every request, in hand-written SQL. Nothing is cached:
 * each request reads the row, so a revoked key fails on its very next request
 * on every API replica.
 */
export class ApiKeysRepository {
  private readonly sql: Sql;

  constructor(m: EntityManager) {
    this.sql = sqlOn(m);
  }

  async byTokenHash(tokenHash: string): Promise<AuthKeyRow | null> {
    const [r] = await this.sql<{ id: string; name: string; role: Role; folder_scopes: string[]; last_used_at: Date | null; revoked_at: Date | null }>(
      API_KEY_BY_TOKEN_HASH_SQL,
      [tokenHash],
    );
    return r ? { id: r.id, name: r.name, role: r.role, folderScopes: r.folder_scopes, lastUsedAt: r.last_used_at, revokedAt: r.revoked_at } : null;
  }

  async touch(id: string, at: Date): Promise<void> {
    await this.sql(API_KEY_TOUCH_SQL, [id, at]);
  }
}
