#!/usr/bin/env node
// The raw baseline of `npm run bench:read` (started by scripts/bench-read.mjs as a child process, as Keyturn's
// API is): plain Fastify + pg answering the same three routes with the same work per request as Keyturn:
// the same SQL statements (imported from Keyturn's repositories, so the text is identical, and the constant
// ones named as Keyturn's are: pg prepares each once per connection on both servers), the same
// token hashing, role and folder-scope checks, last-used write rule, envelope decryption (libs/crypto from
// dist), ETag, audit row and JSON body. No framework around it, no logging, no metrics: that is the point.
import { createHash, randomUUID } from 'node:crypto';
import Fastify from 'fastify';
import pg from 'pg';

const SQL = await import('../dist/libs/store/src/repositories/read-paths.sql.js');
const { uuidv7 } = await import('../dist/libs/store/src/uuid.js');
const { EnvelopeCipher, keyringFromStrings } = await import('../dist/libs/crypto/src/index.js');
const { DEFAULT_SETTINGS, effectiveSettings, inFolderScope } = await import('../dist/libs/contracts/src/index.js');
const { impliedRoles } = await import('../dist/libs/auth/src/roles.js');

const env = process.env;
// The API's pool size (libs/config: the API needs 10).
const pool = new pg.Pool({ connectionString: env.DATABASE_URL, max: Number(env.KEYTURN_DB_POOL_SIZE ?? 10) });
const cipher = new EnvelopeCipher(keyringFromStrings(env.KEYTURN_MASTER_KEY));
const TOKEN = /^Bearer\s+(\S+)\s*$/i;
const TOKEN_SHAPE = /^kt_[A-Za-z0-9_-]{43}$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const iso = (d) => (d ? d.toISOString() : null);

const app = Fastify({ genReqId: () => randomUUID() });

class HttpError extends Error {
  constructor(status, code) {
    super(code);
    this.status = status;
  }
}
app.setErrorHandler((e, req, reply) => void reply.status(e.status ?? 500).send({ code: e.message, requestId: req.id }));

async function authenticate(req, role) {
  const m = TOKEN.exec(req.headers.authorization ?? '');
  if (!m || !TOKEN_SHAPE.test(m[1])) throw new HttpError(401, 'INVALID_API_KEY');
  const rows = (await pool.query(SQL.API_KEY_BY_TOKEN_HASH_SQL, [createHash('sha256').update(m[1], 'utf8').digest('hex')])).rows;
  const k = rows[0];
  if (!k || k.revoked_at) throw new HttpError(401, 'INVALID_API_KEY');
  if (!k.last_used_at || Date.now() - k.last_used_at.getTime() > 60_000) {
    pool.query(SQL.API_KEY_TOUCH_SQL, [k.id, new Date()]).catch(() => {});
  }
  const actor = { id: k.id, name: k.name, roles: impliedRoles(k.role), folderScopes: k.folder_scopes, requestId: String(req.id) };
  if (!actor.roles.includes(role)) throw new HttpError(403, 'FORBIDDEN');
  return actor;
}

function metadata(s) {
  return {
    id: s.id, type: s.type, name: s.name, folder: s.folder, username: s.username, accountId: s.account_id,
    privilegedSecretId: s.privileged_secret_id, settings: s.settings, heartbeatStatus: s.heartbeat_status,
    lastHeartbeatAt: iso(s.last_heartbeat_at), nextHeartbeatAt: iso(s.next_heartbeat_at), lastRotatedAt: iso(s.last_rotated_at),
    nextAutoChangeAt: iso(s.next_auto_change_at),
    createdAt: s.created_at.toISOString(), updatedAt: s.updated_at.toISOString(),
  };
}

function uuidParam(id) {
  if (!UUID.test(id)) throw new HttpError(400, 'INVALID_ID');
  return id;
}

app.get('/v1/secrets/:id/value', async (req, reply) => {
  const actor = await authenticate(req, 'reader');
  const id = uuidParam(req.params.id);
  const s = (await pool.query(SQL.SECRET_WITH_CURRENT_VERSION_SQL, [id])).rows[0];
  if (!s || !inFolderScope(actor, s.folder)) throw new HttpError(404, 'SECRET_NOT_FOUND');
  if (!s.v_id) throw new HttpError(409, 'SECRET_HAS_NO_VALUE');
  const etag = `"v${s.v_version}-${s.v_id}"`;
  reply.header('ETag', etag);
  if (req.headers['if-none-match'] === etag) return reply.status(304).send();
  const fields = cipher.open({ secretId: s.id, version: s.v_version }, { kekId: s.v_kek_id, wrappedKey: s.v_wrapped_key, fields: s.v_fields });
  const body = { id: s.id, type: s.type, username: s.username, accountId: s.account_id, version: s.v_version, fields };
  await pool.query(SQL.AUDIT_INSERT_SQL, [
    uuidv7(), new Date(), actor.id, actor.name, 'secret.value.read', 'secret', id, id, 'success', null, actor.requestId, req.ip,
    { fields: [], version: s.v_version },
  ]);
  return body;
});

app.get('/v1/secrets/:id', async (req) => {
  const actor = await authenticate(req, 'viewer');
  const id = uuidParam(req.params.id);
  const s = (await pool.query(SQL.SECRET_VIEW_SQL, [id])).rows[0];
  if (!s || !inFolderScope(actor, s.folder)) throw new HttpError(404, 'SECRET_NOT_FOUND');
  return {
    ...metadata(s),
    effectiveSettings: effectiveSettings({ ...DEFAULT_SETTINGS, ...(s.global_settings ?? {}) }, s.settings),
    currentVersion: s.current_version,
  };
});

app.get('/v1/secrets', async (req) => {
  const actor = await authenticate(req, 'viewer');
  const limit = req.query.limit === undefined ? 50 : Number(req.query.limit);
  if (!Number.isInteger(limit) || limit < 1 || limit > 500) throw new HttpError(400, 'VALIDATION_FAILED');
  const { text, values } = SQL.listSecretsSql({ limit, scopes: actor.folderScopes });
  const rows = (await pool.query(text, values)).rows;
  const items = rows.slice(0, limit).map(metadata);
  return { items, nextCursor: rows.length > limit ? Buffer.from(items[items.length - 1].id, 'utf8').toString('base64url') : null };
});

await app.listen({ host: '127.0.0.1', port: Number(env.PORT ?? 0) });
process.send?.({ port: app.server.address().port });
process.on('SIGTERM', () => void app.close().then(() => pool.end()).then(() => process.exit(0)));
