import { createHash, randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { loadConfig } from '@keyturn/config';
import { generateToken } from '@keyturn/auth';
import { EnvelopeCipher, keyringFromStrings } from '@keyturn/crypto';
import { envelopeVersionCipher } from '@keyturn/vault';
import { createApi } from '../../apps/secrets-api/src/bootstrap.js';
import {
  client,
  createApiKey,
  createTestEnv,
  eventually,
  fakeKey,
  rawDb,
  REDIS_URL,
  startApi,
  startApiWithRoutes,
  type ApiResponse,
  type Client,
  type RouteInfo,
  type RunningApi,
  type TestEnv,
} from './harness.js';

const ACCOUNT = '123456789012';
let seq = 0;
// Every request comes from its own address (the API trusts X-Forwarded-For in
// these tests), so the failed-authentication limiter only bites where a test wants it to.
let ipSeq = 0;
const freshIp = () => `10.1.${Math.floor(++ipSeq / 250)}.${(ipSeq % 250) + 1}`;

/** Ten failed authentications from `ip` (each a 401), as a client with a key nobody issued: the limit, reached. */
async function tenFailures(url: string, ip: string): Promise<ReturnType<typeof client>> {
  const bad = client(url, generateToken());
  for (let i = 0; i < 10; i++) {
    const r = await bad.get('/v1/secrets', { headers: { 'x-forwarded-for': ip } });
    expect([i, r.status]).toEqual([i, 401]);
  }
  return bad;
}

function keyBody(folder: string, over: Record<string, unknown> = {}) {
  return { type: 'aws-iam-key', name: `key ${++seq}`, folder, username: 'ci-bot', accountId: ACCOUNT, ...fakeKey(), ...over };
}

const ACTORS = ['none', 'revoked', 'viewer', 'reader', 'operator', 'auditor', 'admin', 'scopedOperator'] as const;
type ActorKind = (typeof ACTORS)[number];

interface Endpoint {
  /** Builds a request that would succeed for a permitted actor (making fixtures with the admin key). */
  request: () => Promise<{ path: string; json?: unknown }>;
  expect: Record<ActorKind, number>;
  /** Extra checks on a cell's answer. */
  check?: (actor: ActorKind, res: ApiResponse, path: string) => Promise<void> | void;
}

/** Every allowed status, per role, read from the API table of README.md. */
const role = {
  viewer: { none: 401, revoked: 401, viewer: 200, reader: 200, operator: 200, auditor: 403, admin: 200 },
  reader: { none: 401, revoked: 401, viewer: 403, reader: 200, operator: 200, auditor: 403, admin: 200 },
  operator: { none: 401, revoked: 401, viewer: 403, reader: 403, operator: 200, auditor: 403, admin: 200 },
  admin: { none: 401, revoked: 401, viewer: 403, reader: 403, operator: 403, auditor: 403, admin: 200 },
  auditor: { none: 401, revoked: 401, viewer: 403, reader: 403, operator: 403, auditor: 200, admin: 200 },
  public: { none: 200, revoked: 200, viewer: 200, reader: 200, operator: 200, auditor: 200, admin: 200 },
};

describe('secrets API: access control', () => {
  let t: TestEnv;
  let api: RunningApi & { routes: RouteInfo[] };
  let admin: Client;
  const tokens: Partial<Record<ActorKind, string>> = {};
  const teamFolder = '/team/prod';
  const scope = '/other';

  const as = (actor: ActorKind) => {
    const c = client(api.url, actor === 'none' ? undefined : tokens[actor]);
    return (method: string, path: string, json?: unknown) =>
      c.call(method, path, { ...(json !== undefined ? { json } : {}), headers: { 'x-forwarded-for': freshIp() } });
  };

  const newSecret = async (folder = teamFolder) => {
    const res = await admin.post('/v1/secrets', keyBody(folder));
    expect(res.status).toBe(201);
    return res.body.id as string;
  };
  /** A discovery run (no worker here: it stays queued) whose executor lives in the team folder. */
  const newDiscovery = async () => {
    const res = await admin.post('/v1/discoveries', { executorSecretId: await newSecret() });
    expect(res.status).toBe(202);
    return res.body.id as string;
  };

  beforeAll(async () => {
    t = await createTestEnv({ KEYTURN_TRUST_PROXY: 'true' });
    api = await startApiWithRoutes(t);
    admin = client(api.url, t.adminToken);
    for (const r of ['viewer', 'reader', 'operator', 'auditor', 'admin'] as const) tokens[r] = (await createApiKey(admin, r)).token;
    tokens.scopedOperator = (await createApiKey(admin, 'operator', { folderScopes: [scope] })).token;
    const revoked = await createApiKey(admin, 'admin', { name: 'to be revoked' });
    expect((await admin.del(`/v1/api-keys/${revoked.id}`)).status).toBe(200);
    tokens.revoked = revoked.token;
  });
  afterAll(async () => {
    await api?.close();
    await t?.drop();
  });

  // The scoped operator works in /other; the fixtures live in /team/prod, which it must not see.
  const matrix: Record<string, Endpoint> = {
    'POST /v1/secrets': {
      request: async () => ({ path: '/v1/secrets', json: keyBody(teamFolder) }),
      expect: { ...role.operator, operator: 201, admin: 201, scopedOperator: 403 },
      check: (actor, res) => {
        if (actor === 'scopedOperator') expect(res.body.code).toBe('FOLDER_OUT_OF_SCOPE');
      },
    },
    'GET /v1/secrets': {
      request: async () => {
        await newSecret();
        await newSecret(`${scope}/listed`);
        return { path: '/v1/secrets?limit=500' };
      },
      expect: { ...role.viewer, scopedOperator: 200 },
      check: (actor, res) => {
        if (res.status !== 200) return;
        expect(res.body.items.length).toBeGreaterThan(0);
        if (actor === 'scopedOperator') expect(res.body.items.map((s: { folder: string }) => s.folder)).not.toContain(teamFolder);
        else expect(res.body.items.map((s: { folder: string }) => s.folder)).toContain(teamFolder);
      },
    },
    'GET /v1/secrets/:id': {
      request: async () => ({ path: `/v1/secrets/${await newSecret()}` }),
      expect: { ...role.viewer, scopedOperator: 404 },
    },
    'GET /v1/secrets/:id/value': {
      request: async () => ({ path: `/v1/secrets/${await newSecret()}/value` }),
      expect: { ...role.reader, scopedOperator: 404 },
      check: (_actor, res) => {
        if (res.status !== 200) expect(JSON.stringify(res.body)).not.toMatch(/AKIA[A-Z0-9]{16}/);
      },
    },
    'GET /v1/secrets/:id/versions': {
      request: async () => ({ path: `/v1/secrets/${await newSecret()}/versions` }),
      expect: { ...role.reader, scopedOperator: 404 },
      check: (_actor, res) => {
        if (res.status === 200) expect(res.body.items).toEqual([expect.objectContaining({ version: 1, state: 'current' })]);
        expect(JSON.stringify(res.body)).not.toMatch(/AKIA[A-Z0-9]{16}/);
      },
    },
    'PATCH /v1/secrets/:id': {
      request: async () => ({ path: `/v1/secrets/${await newSecret()}`, json: { name: `renamed ${++seq}` } }),
      expect: { ...role.operator, scopedOperator: 404 },
      check: async (_actor, res, path) => {
        if (res.status === 200) return;
        const after = await admin.get(path);
        expect(after.body.name).toMatch(/^key /);
      },
    },
    'DELETE /v1/secrets/:id': {
      request: async () => ({ path: `/v1/secrets/${await newSecret()}` }),
      expect: { ...role.operator, scopedOperator: 404 },
      check: async (_actor, res, path) => {
        expect((await admin.get(path)).status).toBe(res.status === 200 ? 404 : 200);
      },
    },
    'POST /v1/secrets/:id/rotations': {
      request: async () => ({ path: `/v1/secrets/${await newSecret()}/rotations` }),
      expect: { ...role.operator, operator: 202, admin: 202, scopedOperator: 404 },
    },
    'GET /v1/secrets/:id/rotations': {
      request: async () => ({ path: `/v1/secrets/${await newSecret()}/rotations` }),
      expect: { ...role.viewer, scopedOperator: 404 },
    },
    'GET /v1/rotations/:id': {
      request: async () => {
        const r = await admin.post(`/v1/secrets/${await newSecret()}/rotations`);
        expect(r.status).toBe(202);
        return { path: `/v1/rotations/${r.body.id}` };
      },
      expect: { ...role.viewer, scopedOperator: 404 },
    },
    'GET /v1/secrets/:id/required-permissions': {
      request: async () => ({ path: `/v1/secrets/${await newSecret()}/required-permissions` }),
      expect: { ...role.viewer, scopedOperator: 404 },
    },
    'GET /v1/discoveries/required-permissions': {
      request: async () => ({ path: `/v1/discoveries/required-permissions?executorSecretId=${await newSecret()}` }),
      expect: { ...role.viewer, scopedOperator: 404 },
    },
    // Adoption: the role and the folder are checked before the run is looked up (an unknown run: 404 for those allowed).
    'POST /v1/discoveries/:id/findings/:findingId/adopt': {
      request: async () => ({
        path: `/v1/discoveries/${randomUUID()}/findings/${randomUUID()}/adopt`,
        json: { name: `adopted ${++seq}`, folder: scope, privilegedSecretId: randomUUID() },
      }),
      expect: { ...role.operator, operator: 404, admin: 404, scopedOperator: 404 },
      check: (_actor, res) => {
        if (res.status === 404) expect(res.body.code).toBe('DISCOVERY_NOT_FOUND');
      },
    },
    'POST /v1/secrets/:id/heartbeats': {
      request: async () => ({ path: `/v1/secrets/${await newSecret()}/heartbeats` }),
      expect: { ...role.operator, operator: 202, admin: 202, scopedOperator: 404 },
    },
    'GET /v1/secrets/:id/heartbeats': {
      request: async () => ({ path: `/v1/secrets/${await newSecret()}/heartbeats` }),
      expect: { ...role.viewer, scopedOperator: 404 },
    },
    'GET /v1/heartbeats/:id': {
      request: async () => {
        const h = await admin.post(`/v1/secrets/${await newSecret()}/heartbeats`);
        expect(h.status).toBe(202);
        return { path: `/v1/heartbeats/${h.body.id}` };
      },
      expect: { ...role.viewer, scopedOperator: 404 },
    },
    'POST /v1/discoveries': {
      request: async () => ({ path: '/v1/discoveries', json: { executorSecretId: await newSecret() } }),
      expect: { ...role.operator, operator: 202, admin: 202, scopedOperator: 404 },
    },
    'GET /v1/discoveries': { request: async () => ({ path: '/v1/discoveries' }), expect: { ...role.viewer, scopedOperator: 200 } },
    'GET /v1/discoveries/:id': {
      request: async () => ({ path: `/v1/discoveries/${await newDiscovery()}` }),
      expect: { ...role.viewer, scopedOperator: 404 },
    },
    'GET /v1/discoveries/:id/findings': {
      request: async () => ({ path: `/v1/discoveries/${await newDiscovery()}/findings` }),
      expect: { ...role.viewer, scopedOperator: 404 },
    },
    'GET /v1/discoveries/:id/findings/:findingId': {
      // A run that found nothing: a permitted caller gets the finding's 404, an out-of-scope one the run's.
      request: async () => ({ path: `/v1/discoveries/${await newDiscovery()}/findings/0193a1b2-0000-7000-8000-000000000001` }),
      expect: { ...role.viewer, viewer: 404, reader: 404, operator: 404, admin: 404, scopedOperator: 404 },
      check: (actor, res) => {
        if (res.status === 404) expect(res.body.code).toBe(actor === 'scopedOperator' ? 'DISCOVERY_NOT_FOUND' : 'DISCOVERY_FINDING_NOT_FOUND');
      },
    },
    'GET /v1/settings': { request: async () => ({ path: '/v1/settings' }), expect: { ...role.admin, scopedOperator: 403 } },
    'PUT /v1/settings': {
      request: async () => ({ path: '/v1/settings', json: { passwordLength: 20 + (++seq % 50) } }),
      expect: { ...role.admin, scopedOperator: 403 },
    },
    'POST /v1/api-keys': {
      request: async () => ({ path: '/v1/api-keys', json: { name: `made ${++seq}`, role: 'admin' } }),
      expect: { ...role.admin, admin: 201, scopedOperator: 403 },
      check: (_actor, res) => {
        if (res.status !== 201) expect(res.body.token).toBeUndefined();
      },
    },
    'GET /v1/api-keys': { request: async () => ({ path: '/v1/api-keys' }), expect: { ...role.admin, scopedOperator: 403 } },
    'DELETE /v1/api-keys/:id': {
      request: async () => ({ path: `/v1/api-keys/${(await createApiKey(admin, 'viewer')).id}` }),
      expect: { ...role.admin, scopedOperator: 403 },
      check: async (_actor, res, path) => {
        const id = path.split('/').pop();
        const listed = (await admin.get('/v1/api-keys')).body.find((k: { id: string }) => k.id === id);
        expect(listed.revokedAt === null).toBe(res.status !== 200);
      },
    },
    'GET /v1/audit': { request: async () => ({ path: '/v1/audit' }), expect: { ...role.auditor, scopedOperator: 403 } },
    // Counts across every folder: no secret, name or id, so a folder-scoped operator may read them too.
    'GET /v1/queues': { request: async () => ({ path: '/v1/queues' }), expect: { ...role.operator, scopedOperator: 200 } },
    'GET /health/live': { request: async () => ({ path: '/health/live' }), expect: { ...role.public, scopedOperator: 200 } },
    'GET /health/ready': { request: async () => ({ path: '/health/ready' }), expect: { ...role.public, scopedOperator: 200 } },
    'GET /metrics': { request: async () => ({ path: '/metrics' }), expect: { ...role.public, scopedOperator: 200 } },
  };

  it('has a matrix entry for exactly the routes the app serves', () => {
    const served = new Set(
      api.routes
        .filter((r) => r.method !== 'HEAD' && r.method !== 'OPTIONS' && !/^\/docs(\/|$)/.test(r.url))
        .map((r) => `${r.method} ${r.url}`),
    );
    expect(served.size).toBeGreaterThan(0);
    expect([...served].sort()).toEqual(Object.keys(matrix).sort());
  });

  const cells = Object.keys(matrix).flatMap((route) => ACTORS.map((actor) => [route, actor] as const));
  it.each(cells)('%s as %s', async (route, actor) => {
    const e = matrix[route];
    const method = route.split(' ')[0];
    const { path, json } = await e.request();
    const res = await as(actor)(method, path, json);
    expect({ route, actor, status: res.status }).toEqual({ route, actor, status: e.expect[actor] });
    if (res.status >= 400) {
      expect(res.body).toEqual(expect.objectContaining({ statusCode: res.status, code: expect.stringMatching(/^[A-Z_]+$/), message: expect.any(String) }));
      const codes: Record<number, string[]> = {
        401: ['UNAUTHENTICATED', 'INVALID_API_KEY'],
        403: ['FORBIDDEN', 'FOLDER_OUT_OF_SCOPE'],
        404: ['SECRET_NOT_FOUND', 'ROTATION_NOT_FOUND', 'HEARTBEAT_NOT_FOUND', 'DISCOVERY_NOT_FOUND', 'DISCOVERY_FINDING_NOT_FOUND'],
      };
      expect(codes[res.status]).toContain(res.body.code);
    }
    if (actor === 'none' && res.status === 401) expect(res.body.code).toBe('UNAUTHENTICATED');
    if (actor === 'revoked' && res.status === 401) expect(res.body.code).toBe('INVALID_API_KEY');
    await e.check?.(actor, res, path);
  });

  it('answers a scoped key about a secret outside its folders exactly as about one that does not exist', async () => {
    const scoped = as('scopedOperator');
    const outside = await newSecret();
    const missing = '01890000-0000-7000-8000-000000000001';
    const a = await scoped('GET', `/v1/secrets/${outside}`);
    const b = await scoped('GET', `/v1/secrets/${missing}`);
    expect([a.status, b.status]).toEqual([404, 404]);
    expect(a.body.message.replace(outside, 'ID')).toBe(b.body.message.replace(missing, 'ID'));
  });

  it('lets a scoped key work inside its folders (and their subfolders) but not move or link secrets out of them', async () => {
    const scoped = as('scopedOperator');
    const created = await scoped('POST', '/v1/secrets', keyBody(`${scope}/deep`));
    expect(created.status).toBe(201);
    const id = created.body.id;
    expect((await scoped('GET', `/v1/secrets/${id}`)).status).toBe(200);
    expect((await scoped('GET', `/v1/secrets/${id}/value`)).status).toBe(200);
    // A sibling folder that merely starts with the same letters is outside.
    const sibling = await scoped('POST', '/v1/secrets', keyBody(`${scope}x`));
    expect([sibling.status, sibling.body.code]).toEqual([403, 'FOLDER_OUT_OF_SCOPE']);
    const moved = await scoped('PATCH', `/v1/secrets/${id}`, { folder: teamFolder });
    expect([moved.status, moved.body.code]).toEqual([403, 'FOLDER_OUT_OF_SCOPE']);
    // A privileged account outside the scope is reported as not existing.
    const linked = await scoped('PATCH', `/v1/secrets/${id}`, { privilegedSecretId: await newSecret() });
    expect([linked.status, linked.body.code]).toEqual([422, 'PRIVILEGED_SECRET_NOT_FOUND']);
    expect((await admin.get(`/v1/secrets/${id}`)).body).toEqual(expect.objectContaining({ folder: `${scope}/deep`, privilegedSecretId: null }));
    const list = await scoped('GET', '/v1/secrets?limit=500');
    expect(list.body.items.map((s: { id: string }) => s.id)).toContain(id);
    expect(list.body.items.every((s: { folder: string }) => s.folder === scope || s.folder.startsWith(`${scope}/`))).toBe(true);
    // Even asking for the other folder by filter shows nothing of it.
    const filtered = await scoped('GET', `/v1/secrets?folder=${encodeURIComponent(teamFolder)}`);
    expect(filtered.body.items).toEqual([]);
  });

  it('API keys: the token is shown once with the kt_ prefix, never listed, records its last use, and stops working when revoked', async () => {
    const res = await admin.post('/v1/api-keys', { name: 'lifecycle', role: 'viewer', folderScopes: ['/team'] });
    expect(res.status).toBe(201);
    const token: string = res.body.token;
    expect(token).toMatch(/^kt_[A-Za-z0-9_-]{43}$/);
    expect(res.body.apiKey).toEqual(
      expect.objectContaining({ name: 'lifecycle', role: 'viewer', folderScopes: ['/team'], tokenPrefix: token.slice(0, 7), lastUsedAt: null, revokedAt: null }),
    );
    expect(JSON.stringify(res.body.apiKey)).not.toContain(token.slice(7));
    const id = res.body.apiKey.id;

    const hash = createHash('sha256').update(token).digest('hex');
    const listed = await admin.get('/v1/api-keys');
    expect(listed.status).toBe(200);
    expect(listed.body.map((k: { id: string }) => k.id)).toContain(id);
    const listText = JSON.stringify(listed.body);
    expect(listText).not.toContain(token.slice(7));
    expect(listText).not.toContain(hash);
    expect(listText).not.toMatch(/"token"/);
    const db = await rawDb(t);
    try {
      const rows = JSON.stringify((await db.query('SELECT * FROM api_keys')).rows);
      expect(rows).not.toContain(token.slice(7));
    } finally {
      await db.end();
    }

    const viewer = client(api.url, token);
    const used = await viewer.get('/v1/secrets', { headers: { 'x-forwarded-for': freshIp() } });
    expect(used.status).toBe(200);
    const lastUsed = await eventually(async () => {
      const k = (await admin.get('/v1/api-keys')).body.find((x: { id: string }) => x.id === id);
      return k.lastUsedAt as string | null;
    }, 5_000);
    expect(Math.abs(Date.parse(lastUsed) - Date.now())).toBeLessThan(60_000);

    const revoked = await admin.del(`/v1/api-keys/${id}`);
    expect(revoked.status).toBe(200);
    expect(revoked.body.revokedAt).toEqual(expect.any(String));
    const after = await viewer.get('/v1/secrets', { headers: { 'x-forwarded-for': freshIp() } });
    expect([after.status, after.body.code]).toEqual([401, 'INVALID_API_KEY']);
    // Revoking twice is harmless and keeps the first time.
    const again = await admin.del(`/v1/api-keys/${id}`);
    expect([again.status, again.body.revokedAt]).toEqual([200, revoked.body.revokedAt]);
  });

  it('fails a revoked key on its very next request on every API replica, and never serves a replaced value', async () => {
    // Two replicas on one database: nothing about a key or a value may outlive a change made through the other.
    const second = await startApi(t);
    try {
      const reader = await createApiKey(admin, 'reader');
      const id = await newSecret();
      const viaFirst = client(api.url, reader.token);
      const viaSecond = client(second.url, reader.token);
      const headers = () => ({ headers: { 'x-forwarded-for': freshIp() } });
      const first = await viaSecond.get(`/v1/secrets/${id}/value`, headers());
      expect([first.status, first.body.version]).toEqual([200, 1]);
      expect((await viaSecond.get(`/v1/secrets/${id}`, headers())).status).toBe(200);
      expect((await viaSecond.get('/v1/secrets?limit=5', headers())).status).toBe(200);

      // A new current version sealed with the master key and written as a promotion writes it: the next read on either replica serves it.
      const next = fakeKey();
      const sealed = envelopeVersionCipher(new EnvelopeCipher(keyringFromStrings(t.env.KEYTURN_MASTER_KEY))).seal(id, 2, 'current', next);
      const db = await rawDb(t);
      try {
        await db.query('BEGIN');
        await db.query(`UPDATE secret_versions SET state = 'previous' WHERE secret_id = $1 AND state = 'current'`, [id]);
        await db.query(
          `INSERT INTO secret_versions (id, secret_id, version, state, kek_id, wrapped_key, fields, key_hint, key_id_hmac) VALUES ($1, $2, 2, 'current', $3, $4, $5, $6, $7)`,
          [sealed.id, id, sealed.kekId, sealed.wrappedKey, sealed.fields, sealed.keyHint, sealed.keyIdHmac],
        );
        await db.query('COMMIT');
      } finally {
        await db.end();
      }
      for (const c of [viaSecond, viaFirst]) {
        const replaced = await c.get(`/v1/secrets/${id}/value`, headers());
        expect([replaced.status, replaced.body.version, replaced.body.fields]).toEqual([200, 2, next]);
        expect(replaced.headers.get('etag')).toBe(`"v2-${sealed.id}"`);
        expect((await c.get(`/v1/secrets/${id}`, headers())).body.currentVersion).toBe(2);
      }

      // Revoked through the first replica: the second refuses the key on the very next request, on every read path.
      expect((await admin.del(`/v1/api-keys/${reader.id}`)).status).toBe(200);
      for (const c of [viaSecond, viaFirst]) {
        for (const path of [`/v1/secrets/${id}/value`, `/v1/secrets/${id}`, '/v1/secrets?limit=5']) {
          const r = await c.get(path, headers());
          expect([path, r.status, r.body.code]).toEqual([path, 401, 'INVALID_API_KEY']);
        }
      }
    } finally {
      await second.close();
    }
  });

  it('lets a scoped admin create keys only within its own folders, so it cannot mint a key that reads other folders', async () => {
    const teamB = await admin.post('/v1/secrets', keyBody('/team-b'));
    expect(teamB.status).toBe(201);
    const scopedAdmin = await createApiKey(admin, 'admin', { name: 'team-a admin', folderScopes: ['/team-a'] });
    const sa = client(api.url, scopedAdmin.token);
    const from = () => ({ headers: { 'x-forwarded-for': freshIp() } });
    const keysBefore = (await admin.get('/v1/api-keys')).body.length;

    const escapes = [
      { name: 'escape: unscoped admin', role: 'admin' },
      { name: 'escape: unscoped viewer', role: 'viewer' },
      { name: 'escape: empty scopes', role: 'admin', folderScopes: [] },
      { name: 'escape: the root folder', role: 'operator', folderScopes: ['/'] },
      { name: 'escape: team-b', role: 'operator', folderScopes: ['/team-b'] },
      { name: 'escape: team-a and team-b', role: 'operator', folderScopes: ['/team-a', '/team-b'] },
      { name: 'escape: a sibling that shares a prefix', role: 'viewer', folderScopes: ['/team-ab'] },
    ];
    for (const body of escapes) {
      const r = await sa.post('/v1/api-keys', body, from());
      expect({ name: body.name, status: r.status, code: r.body.code }).toEqual({ name: body.name, status: 403, code: 'API_KEY_SCOPE_EXCEEDED' });
      expect(r.body).toEqual({ statusCode: 403, code: 'API_KEY_SCOPE_EXCEEDED', message: expect.stringContaining('/team-a') });
      expect(r.body.token).toBeUndefined();
    }
    expect((await admin.get('/v1/api-keys')).body).toHaveLength(keysBefore);

    const sub = await sa.post('/v1/api-keys', { name: 'team-a sub operator', role: 'operator', folderScopes: ['/team-a/sub'] }, from());
    expect(sub.status).toBe(201);
    expect(sub.body.apiKey).toEqual(expect.objectContaining({ role: 'operator', folderScopes: ['/team-a/sub'], createdBy: scopedAdmin.id }));
    const peer = await sa.post('/v1/api-keys', { name: 'team-a admin 2', role: 'admin', folderScopes: ['/team-a'] }, from());
    expect(peer.status).toBe(201);
    expect(peer.body.apiKey.folderScopes).toEqual(['/team-a']);

    // The escape of the issue, end to end: nothing the scoped admin could mint reads /team-b.
    for (const token of [scopedAdmin.token, sub.body.token, peer.body.token]) {
      const read = await client(api.url, token).get(`/v1/secrets/${teamB.body.id}/value`, from());
      expect([read.status, read.body.code]).toEqual([404, 'SECRET_NOT_FOUND']);
    }
    expect((await admin.get(`/v1/secrets/${teamB.body.id}/value`, from())).status).toBe(200);
  });

  it('shows a scoped admin only the keys within its folders, and answers 404 for revoking any other', async () => {
    const scopedAdmin = await createApiKey(admin, 'admin', { name: 'team-c admin', folderScopes: ['/team-c'] });
    const sa = client(api.url, scopedAdmin.token);
    const from = () => ({ headers: { 'x-forwarded-for': freshIp() } });
    const unscoped = await createApiKey(admin, 'viewer', { name: 'everywhere viewer' });
    const elsewhere = await createApiKey(admin, 'operator', { name: 'team-d operator', folderScopes: ['/team-d'] });
    const straddling = await createApiKey(admin, 'viewer', { name: 'team-c and d viewer', folderScopes: ['/team-c/x', '/team-d'] });
    const inside = await createApiKey(admin, 'viewer', { name: 'team-c viewer', folderScopes: ['/team-c/x'] });

    const listed = await sa.get('/v1/api-keys', from());
    expect(listed.status).toBe(200);
    const ids = listed.body.map((k: { id: string }) => k.id);
    expect(ids).toEqual(expect.arrayContaining([scopedAdmin.id, inside.id]));
    for (const hidden of [unscoped.id, elsewhere.id, straddling.id]) expect(ids).not.toContain(hidden);
    for (const k of listed.body as { folderScopes: string[] }[]) {
      expect(k.folderScopes.length).toBeGreaterThan(0);
      expect(k.folderScopes.every((f) => f === '/team-c' || f.startsWith('/team-c/'))).toBe(true);
    }

    const unknownId = '01890000-0000-7000-8000-0000000000cc';
    const unknown = await sa.del(`/v1/api-keys/${unknownId}`, from());
    for (const hidden of [unscoped.id, elsewhere.id, straddling.id]) {
      const r = await sa.del(`/v1/api-keys/${hidden}`, from());
      expect([r.status, r.body.code]).toEqual([404, 'API_KEY_NOT_FOUND']);
      expect(r.body.message.replace(hidden, 'ID')).toBe(unknown.body.message.replace(unknownId, 'ID'));
    }
    const all = (await admin.get('/v1/api-keys')).body as { id: string; revokedAt: string | null }[];
    for (const hidden of [unscoped.id, elsewhere.id, straddling.id]) expect(all.find((k) => k.id === hidden)?.revokedAt).toBeNull();
    // The admin's own bootstrap key is outside too.
    const boot = all.find((k) => (k as unknown as { name: string }).name === 'bootstrap admin')!;
    expect((await sa.del(`/v1/api-keys/${boot.id}`, from())).status).toBe(404);

    const revoked = await sa.del(`/v1/api-keys/${inside.id}`, from());
    expect([revoked.status, revoked.body.revokedAt]).toEqual([200, expect.any(String)]);
  });

  it('answers 429 with Retry-After after more than 10 failed authentications from one address, even for a valid key', async () => {
    const ip = '203.0.113.7';
    const bad = await tenFailures(api.url, ip);
    const blocked = await bad.get('/v1/secrets', { headers: { 'x-forwarded-for': ip } });
    expect([blocked.status, blocked.body.code]).toEqual([429, 'TOO_MANY_FAILED_AUTHENTICATIONS']);
    const retryAfter = Number(blocked.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(60);
    // The address is blocked, whatever key it sends; other addresses are not.
    const good = await admin.get('/v1/secrets', { headers: { 'x-forwarded-for': ip } });
    expect(good.status).toBe(429);
    expect((await admin.get('/v1/secrets', { headers: { 'x-forwarded-for': freshIp() } })).status).toBe(200);
    // Public endpoints stay reachable.
    expect((await bad.get('/health/live', { headers: { 'x-forwarded-for': ip } })).status).toBe(200);
  });

  it('blocks an address on every API replica once it reaches the limit, also on one that had just let it through', async () => {
    // Each replica remembers addresses it found under the limit; Redis tells it when another replica counts a failure.
    const second = await startApi(t);
    try {
      const ip = '203.0.113.10';
      const viaSecond = client(second.url, (await createApiKey(admin, 'reader')).token);
      for (let i = 0; i < 3; i++) expect((await viaSecond.get('/v1/secrets', { headers: { 'x-forwarded-for': ip } })).status).toBe(200);
      await tenFailures(api.url, ip);
      const blocked = await viaSecond.get('/v1/secrets', { headers: { 'x-forwarded-for': ip } });
      expect([blocked.status, blocked.body.code]).toEqual([429, 'TOO_MANY_FAILED_AUTHENTICATIONS']);
      expect(Number(blocked.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
      expect((await viaSecond.get('/v1/secrets', { headers: { 'x-forwarded-for': freshIp() } })).status).toBe(200);
    } finally {
      await second.close();
    }
  });

  it('does not reset the failure count on a successful authentication', async () => {
    const ip = '203.0.113.8';
    const bad = client(api.url, generateToken());
    for (let i = 0; i < 5; i++) expect((await bad.get('/v1/secrets', { headers: { 'x-forwarded-for': ip } })).status).toBe(401);
    expect((await admin.get('/v1/secrets', { headers: { 'x-forwarded-for': ip } })).status).toBe(200);
    for (let i = 0; i < 5; i++) expect((await bad.get('/v1/secrets', { headers: { 'x-forwarded-for': ip } })).status).toBe(401);
    const r = await admin.get('/v1/secrets', { headers: { 'x-forwarded-for': ip } });
    expect([r.status, r.body.code]).toEqual([429, 'TOO_MANY_FAILED_AUTHENTICATIONS']);
    expect(r.headers.get('retry-after')).toMatch(/^\d+$/);
  });

  it('heals a failure counter left without an expiry (a crash between INCR and EXPIRE): an honest Retry-After, and the lockout ends', async () => {
    const redis = new Redis(REDIS_URL);
    try {
      const counter = (ip: string) => `${t.config.redis.prefix}:authfail:${ip}`;
      // Over the limit and without a TTL: before the fix this address stayed locked out for good.
      const locked = '203.0.113.20';
      await redis.set(counter(locked), '50');
      expect(await redis.pttl(counter(locked))).toBe(-1);
      const r = await admin.get('/v1/secrets', { headers: { 'x-forwarded-for': locked } });
      expect([r.status, r.body.code]).toEqual([429, 'TOO_MANY_FAILED_AUTHENTICATIONS']);
      const pttl = await redis.pttl(counter(locked));
      expect(pttl).toBeGreaterThan(0);
      expect(pttl).toBeLessThanOrEqual(60_000);
      const retryAfter = Number(r.headers.get('retry-after'));
      expect(retryAfter).toBeGreaterThanOrEqual(Math.floor(pttl / 1000));
      expect(retryAfter).toBeLessThanOrEqual(60);

      // Under the limit and without a TTL: the next failure gives it one.
      const counting = '203.0.113.21';
      await redis.set(counter(counting), '3');
      const miss = await client(api.url, generateToken()).get('/v1/secrets', { headers: { 'x-forwarded-for': counting } });
      expect(miss.status).toBe(401);
      expect(await redis.get(counter(counting))).toBe('4');
      const ttl = await redis.pttl(counter(counting));
      expect(ttl).toBeGreaterThan(0);
      expect(ttl).toBeLessThanOrEqual(60_000);
    } finally {
      redis.disconnect();
    }
  });

  it('counts malformed tokens and unknown schemes as failures too', async () => {
    const ip = '203.0.113.9';
    const tries = ['kt_short', 'not-a-token', generateToken().slice(0, -1) + '!', 'kt_' + 'A'.repeat(43)];
    for (let i = 0; i < 10; i++) {
      const r = await client(api.url, tries[i % tries.length]).get('/v1/secrets', { headers: { 'x-forwarded-for': ip } });
      expect(r.status).toBe(401);
    }
    expect((await admin.get('/v1/secrets', { headers: { 'x-forwarded-for': ip } })).status).toBe(429);
  });
});

describe('secrets API: bootstrap admin', () => {
  let t: TestEnv;

  beforeAll(async () => {
    t = await createTestEnv();
  });
  afterAll(async () => {
    await t?.drop();
  });

  async function adminKeys(): Promise<{ name: string; created_by: string | null; revoked_at: Date | null }[]> {
    const db = await rawDb(t);
    try {
      // Before the first start the schema does not exist yet: no admin either.
      if ((await db.query(`SELECT to_regclass('public.api_keys') AS t`)).rows[0].t === null) return [];
      return (await db.query(`SELECT name, created_by, revoked_at FROM api_keys WHERE role = 'admin' ORDER BY id`)).rows;
    } finally {
      await db.end();
    }
  }

  async function withApi<T>(token: string, fn: (api: RunningApi) => Promise<T>): Promise<T> {
    const config = loadConfig({ ...t.env, KEYTURN_BOOTSTRAP_ADMIN_TOKEN: token });
    const app = await createApi(config, { docs: false });
    await app.listen({ host: '127.0.0.1', port: 0 });
    const addr = app.getHttpServer().address();
    const url = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;
    try {
      return await fn({ url, app, close: () => app.close() });
    } finally {
      await app.close();
    }
  }

  it('makes the bootstrap token an admin only while no admin exists, and never again once a real admin does', async () => {
    expect(await adminKeys()).toEqual([]);
    let realAdmin = '';
    await withApi(t.adminToken, async (first) => {
      const boot = client(first.url, t.adminToken);
      expect((await boot.get('/v1/api-keys')).status).toBe(200);
      expect(await adminKeys()).toEqual([expect.objectContaining({ name: 'bootstrap admin', created_by: 'KEYTURN_BOOTSTRAP_ADMIN_TOKEN' })]);
      realAdmin = (await createApiKey(boot, 'admin', { name: 'real admin' })).token;
    });

    // Same token again: nothing new.
    await startApi(t).then((a) => a.close());
    expect(await adminKeys()).toHaveLength(2);

    const other = generateToken();
    await withApi(other, async (second) => {
      expect((await client(second.url, other).get('/v1/secrets')).status).toBe(401);
      expect((await client(second.url, realAdmin).get('/v1/api-keys')).status).toBe(200);
    });
    expect(await adminKeys()).toHaveLength(2);

    // Still not, after the bootstrap admin is revoked, because the real admin remains.
    await withApi(t.adminToken, async (api) => {
      const real = client(api.url, realAdmin);
      const boot = (await real.get('/v1/api-keys')).body.find((k: { name: string }) => k.name === 'bootstrap admin');
      expect((await real.del(`/v1/api-keys/${boot.id}`)).status).toBe(200);
      expect((await client(api.url, t.adminToken).get('/v1/secrets')).status).toBe(401);
    });
    await withApi(generateToken(), async () => undefined);
    const keys = await adminKeys();
    expect(keys).toHaveLength(2);
    expect(keys.filter((k) => k.revoked_at === null).map((k) => k.name)).toEqual(['real admin']);
    // The revoked bootstrap token stays revoked on a restart with it.
    await withApi(t.adminToken, async (api) => {
      expect((await client(api.url, t.adminToken).get('/v1/secrets')).status).toBe(401);
    });
    expect(await adminKeys()).toHaveLength(2);
  });
});
