import { Injectable, Logger } from '@nestjs/common';
import { InjectDataSource, InjectRepository } from '@nestjs/typeorm';
import { DataSource, IsNull, Repository } from 'typeorm';
import { ErrorCode, KeyturnError, type Actor, type Role } from '@keyturn/contracts';
import { ApiKeyEntity, ApiKeysRepository, uuidv7, type AuthKeyRow } from '@keyturn/store';
import { impliedRoles } from './roles.js';
import { mayHoldKey, normaliseScopes } from './key-limits.js';
import { displayPrefix, generateToken, hashToken, looksLikeToken } from './tokens.js';

export interface ApiKeyView {
  id: string;
  name: string;
  role: Role;
  folderScopes: string[];
  tokenPrefix: string;
  createdBy: string | null;
  createdAt: string;
  lastUsedAt: string | null;
  revokedAt: string | null;
}

export interface CreateApiKeyInput {
  name: string;
  role: Role;
  folderScopes?: string[];
}

// last_used_at is written at most this often per key, so reads do not turn into writes.
const LAST_USED_RESOLUTION_MS = 60_000;
const BOOTSTRAP_LOCK = 7_264_002;

export function toApiKeyView(k: ApiKeyEntity): ApiKeyView {
  return {
    id: k.id,
    name: k.name,
    role: k.role,
    folderScopes: k.folderScopes,
    tokenPrefix: k.tokenPrefix,
    createdBy: k.createdBy,
    createdAt: k.createdAt.toISOString(),
    lastUsedAt: k.lastUsedAt?.toISOString() ?? null,
    revokedAt: k.revokedAt?.toISOString() ?? null,
  };
}

export function actorOf(k: Pick<ApiKeyEntity, 'id' | 'name' | 'role' | 'folderScopes'>, requestId?: string): Actor {
  return { id: k.id, name: k.name, roles: impliedRoles(k.role), folderScopes: k.folderScopes, requestId };
}

@Injectable()
export class ApiKeysService {
  private readonly logger = new Logger('ApiKeys');
  /** The per-request lookup, in hand-written SQL (libs/store). */
  private readonly auth: ApiKeysRepository;

  constructor(
    @InjectDataSource() private readonly ds: DataSource,
    @InjectRepository(ApiKeyEntity) private readonly keys: Repository<ApiKeyEntity>,
  ) {
    this.auth = new ApiKeysRepository(ds.manager);
  }

  /**
   * Creates a key for an API caller: only a key the caller could itself hold
   * (role at most its own, folders within its own). Returns the key and its
   * token; the token is never stored and cannot be shown again.
   */
  async create(actor: Actor, input: CreateApiKeyInput): Promise<{ apiKey: ApiKeyView; token: string }> {
    const folderScopes = normaliseScopes(input.folderScopes ?? []);
    if (!mayHoldKey(actor, { role: input.role, folderScopes })) {
      if (!actor.roles.some((r) => impliedRoles(r).includes(input.role))) {
        throw new KeyturnError(ErrorCode.API_KEY_ROLE_EXCEEDED, { role: input.role, allowed: actor.roles });
      }
      throw new KeyturnError(ErrorCode.API_KEY_SCOPE_EXCEEDED, { scopes: actor.folderScopes });
    }
    return this.insert({ ...input, folderScopes }, actor.id);
  }

  /** Creates a key without limits, for the CLI: whoever runs it already has the database. */
  async createAsSystem(input: CreateApiKeyInput, createdBy: string): Promise<{ apiKey: ApiKeyView; token: string }> {
    return this.insert({ ...input, folderScopes: normaliseScopes(input.folderScopes ?? []) }, createdBy);
  }

  private async insert(input: Required<CreateApiKeyInput>, createdBy: string): Promise<{ apiKey: ApiKeyView; token: string }> {
    const token = generateToken();
    const row = this.keys.create({
      id: uuidv7(),
      name: input.name,
      role: input.role,
      folderScopes: input.folderScopes,
      tokenHash: hashToken(token),
      tokenPrefix: displayPrefix(token),
      createdBy,
    });
    await this.keys.insert(row);
    const saved = await this.keys.findOneByOrFail({ id: row.id });
    return { apiKey: toApiKeyView(saved), token };
  }

  /** The keys the caller could itself hold; a scoped admin does not see keys that reach beyond its folders. */
  async list(actor: Actor): Promise<ApiKeyView[]> {
    // Key tables hold hundreds of rows, not millions: filtering here keeps one rule (mayHoldKey) for every path.
    const rows = await this.keys.find({ order: { id: 'ASC' } });
    return rows.filter((k) => mayHoldKey(actor, k)).map(toApiKeyView);
  }

  /** A key outside the caller's reach answers exactly like one that does not exist. */
  async revoke(actor: Actor, id: string): Promise<ApiKeyView> {
    const k = await this.keys.findOneBy({ id });
    if (!k || !mayHoldKey(actor, k)) throw new KeyturnError(ErrorCode.API_KEY_NOT_FOUND, { apiKeyId: id });
    if (!k.revokedAt) {
      await this.keys.update({ id, revokedAt: IsNull() }, { revokedAt: () => 'now()' });
    }
    return toApiKeyView(await this.keys.findOneByOrFail({ id }));
  }

  /**
   * The key for a bearer token, or null when the token is unknown or revoked.
   * Read from Postgres on every request (no cache), so a revoke takes effect
   * on the very next request, on every API replica.
   */
  async authenticate(token: string): Promise<AuthKeyRow | null> {
    if (!looksLikeToken(token)) return null;
    const k = await this.auth.byTokenHash(hashToken(token));
    if (!k || k.revokedAt) return null;
    if (!k.lastUsedAt || Date.now() - k.lastUsedAt.getTime() > LAST_USED_RESOLUTION_MS) {
      k.lastUsedAt = new Date();
      // Best effort: a failed timestamp write must not fail the request.
      this.auth.touch(k.id, k.lastUsedAt).catch((e: Error) => this.logger.warn(`last-used update failed: ${e.message}`));
    }
    return k;
  }

  /**
   * KEYTURN_BOOTSTRAP_ADMIN_TOKEN becomes an admin key only while no active
   * admin key exists; once a real admin exists, the variable does nothing.
   */
  async bootstrapAdmin(token: string): Promise<'created' | 'exists' | 'skipped'> {
    if (!looksLikeToken(token)) {
      throw new Error('KEYTURN_BOOTSTRAP_ADMIN_TOKEN must look like kt_ followed by 43 base64url characters (generate one with `npm run cli -- api-keys token`)');
    }
    return this.ds.transaction(async (m) => {
      await m.query('SELECT pg_advisory_xact_lock($1)', [BOOTSTRAP_LOCK]);
      const hash = hashToken(token);
      if (await m.exists(ApiKeyEntity, { where: { tokenHash: hash } })) return 'exists';
      if (await m.exists(ApiKeyEntity, { where: { role: 'admin', revokedAt: IsNull() } })) return 'skipped';
      await m.insert(ApiKeyEntity, {
        id: uuidv7(),
        name: 'bootstrap admin',
        role: 'admin',
        folderScopes: [],
        tokenHash: hash,
        tokenPrefix: displayPrefix(token),
        createdBy: 'KEYTURN_BOOTSTRAP_ADMIN_TOKEN',
      });
      return 'created';
    });
  }
}
