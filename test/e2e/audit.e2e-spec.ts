import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import {
  client,
  createApiKey,
  createTestEnv,
  fakeKey,
  rawDb,
  startApi,
  type ApiResponse,
  type Client,
  type RunningApi,
  type TestEnv,
} from './harness.js';

const ACCOUNT = '123456789012';
let seq = 0;

function keyBody(over: Record<string, unknown> = {}) {
  return { type: 'aws-iam-key', name: `audited key ${++seq}`, folder: '/audit', username: 'ci-bot', accountId: ACCOUNT, ...fakeKey(), ...over };
}

interface EventRow {
  id: string;
  at: Date;
  actor_id: string;
  actor_name: string;
  action: string;
  target_type: string | null;
  target_id: string | null;
  secret_id: string | null;
  outcome: 'success' | 'failure';
  error_code: string | null;
  request_id: string | null;
  ip: string | null;
  details: Record<string, unknown>;
}

describe('audit trail', () => {
  let t: TestEnv;
  let api: RunningApi;
  let db: pg.Client;
  let admin: Client;
  let adminId: string;
  let operator: { id: string; token: string; name: string };
  let viewer: { id: string; token: string; name: string };
  let auditor: Client;
  // Every secret value sent to the API in this file; no event may contain any of them.
  const sentSecrets: string[] = [];

  const remember = <T extends Record<string, unknown>>(body: T): T => {
    for (const k of ['accessKeyId', 'secretAccessKey', 'password']) if (typeof body[k] === 'string') sentSecrets.push(body[k] as string);
    return body;
  };

  /** Sends one request with a fresh x-request-id and returns the answer and the events written under that id. */
  async function audited(
    c: Client,
    method: string,
    path: string,
    json?: unknown,
  ): Promise<{ res: ApiResponse; events: EventRow[]; requestId: string }> {
    const requestId = `req-${randomUUID()}`;
    const res = await c.call(method, path, { ...(json !== undefined ? { json } : {}), headers: { 'x-request-id': requestId } });
    const events = (await db.query<EventRow>('SELECT * FROM audit_events WHERE request_id = $1 ORDER BY id', [requestId])).rows;
    return { res, events, requestId };
  }

  beforeAll(async () => {
    t = await createTestEnv();
    api = await startApi(t);
    db = await rawDb(t);
    admin = client(api.url, t.adminToken);
    const keys = await admin.get('/v1/api-keys');
    adminId = keys.body.find((k: { name: string }) => k.name === 'bootstrap admin').id;
    operator = { ...(await createApiKey(admin, 'operator', { name: 'ops robot' })), name: 'ops robot' };
    viewer = { ...(await createApiKey(admin, 'viewer', { name: 'read only' })), name: 'read only' };
    auditor = client(api.url, (await createApiKey(admin, 'auditor', { name: 'the auditor' })).token);
  });
  afterAll(async () => {
    await db?.end();
    await api?.close();
    await t?.drop();
  });

  const one = (events: EventRow[]) => {
    expect(events).toHaveLength(1);
    return events[0];
  };

  it('records exactly one event per audited action, success or failure, with actor, target, outcome and request id', async () => {
    const ops = client(api.url, operator.token);
    const asOps = { actor_id: operator.id, actor_name: 'ops robot' };

    // secret.create
    const body = remember(keyBody());
    const created = await audited(ops, 'POST', '/v1/secrets', body);
    expect(created.res.status).toBe(201);
    const secretId = created.res.body.id;
    expect(one(created.events)).toEqual(
      expect.objectContaining({
        ...asOps,
        action: 'secret.create',
        target_type: 'secret',
        target_id: secretId,
        secret_id: secretId,
        outcome: 'success',
        error_code: null,
        request_id: created.requestId,
      }),
    );
    expect(created.events[0].details).toEqual(expect.objectContaining({ type: 'aws-iam-key', fields: expect.arrayContaining(['accessKeyId', 'secretAccessKey']) }));

    const badCreate = await audited(ops, 'POST', '/v1/secrets', remember(keyBody({ accountId: 'nope' })));
    expect(badCreate.res.status).toBe(400);
    expect(one(badCreate.events)).toEqual(
      expect.objectContaining({ ...asOps, action: 'secret.create', outcome: 'failure', error_code: 'VALIDATION_FAILED', target_id: null, secret_id: null }),
    );

    // secret.value.read
    const read = await audited(ops, 'GET', `/v1/secrets/${secretId}/value`);
    expect(read.res.status).toBe(200);
    expect(one(read.events)).toEqual(
      expect.objectContaining({ ...asOps, action: 'secret.value.read', target_id: secretId, secret_id: secretId, outcome: 'success' }),
    );
    const missing = randomUUID();
    const badRead = await audited(ops, 'GET', `/v1/secrets/${missing}/value`);
    expect(badRead.res.status).toBe(404);
    expect(one(badRead.events)).toEqual(
      expect.objectContaining({ ...asOps, action: 'secret.value.read', target_id: missing, outcome: 'failure', error_code: 'SECRET_NOT_FOUND' }),
    );
    const badId = await audited(ops, 'GET', '/v1/secrets/not-a-uuid/value');
    expect(badId.res.status).toBe(400);
    expect(one(badId.events)).toEqual(
      expect.objectContaining({ ...asOps, action: 'secret.value.read', outcome: 'failure', error_code: 'INVALID_ID', secret_id: null }),
    );

    // secret.update
    const updated = await audited(ops, 'PATCH', `/v1/secrets/${secretId}`, { name: 'renamed key', settings: { passwordLength: 30 } });
    expect(updated.res.status).toBe(200);
    expect(one(updated.events)).toEqual(expect.objectContaining({ ...asOps, action: 'secret.update', target_id: secretId, secret_id: secretId, outcome: 'success' }));
    expect(updated.events[0].details).toEqual(expect.objectContaining({ fields: ['name', 'settings'] }));
    const badUpdate = await audited(ops, 'PATCH', `/v1/secrets/${secretId}`, { privilegedSecretId: secretId });
    expect(badUpdate.res.status).toBe(422);
    expect(one(badUpdate.events)).toEqual(
      expect.objectContaining({ ...asOps, action: 'secret.update', secret_id: secretId, outcome: 'failure', error_code: 'ASSOCIATION_CYCLE' }),
    );

    // secret.delete (refused while a dependent exists, then done)
    const dependent = await ops.post('/v1/secrets', remember(keyBody({ privilegedSecretId: secretId })));
    expect(dependent.status).toBe(201);
    const badDelete = await audited(ops, 'DELETE', `/v1/secrets/${secretId}`);
    expect(badDelete.res.status).toBe(409);
    expect(one(badDelete.events)).toEqual(
      expect.objectContaining({ ...asOps, action: 'secret.delete', secret_id: secretId, outcome: 'failure', error_code: 'SECRET_HAS_DEPENDENTS' }),
    );
    const deleted = await audited(ops, 'DELETE', `/v1/secrets/${secretId}?force=true`);
    expect(deleted.res.status).toBe(200);
    expect(one(deleted.events)).toEqual(expect.objectContaining({ ...asOps, action: 'secret.delete', target_id: secretId, secret_id: secretId, outcome: 'success' }));
    // The history of a deleted secret stays.
    const history = await db.query<EventRow>('SELECT * FROM audit_events WHERE secret_id = $1', [secretId]);
    expect(history.rows.length).toBeGreaterThanOrEqual(6);

    // settings.update (admin)
    const asAdmin = { actor_id: adminId, actor_name: 'bootstrap admin' };
    const put = await audited(admin, 'PUT', '/v1/settings', { passwordLength: 32 });
    expect(put.res.status).toBe(200);
    expect(one(put.events)).toEqual(expect.objectContaining({ ...asAdmin, action: 'settings.update', target_type: 'settings', outcome: 'success' }));
    const badPut = await audited(admin, 'PUT', '/v1/settings', { passwordLength: 2 });
    expect(badPut.res.status).toBe(400);
    expect(one(badPut.events)).toEqual(expect.objectContaining({ ...asAdmin, action: 'settings.update', outcome: 'failure', error_code: 'VALIDATION_FAILED' }));

    // api-key.create and api-key.revoke
    const made = await audited(admin, 'POST', '/v1/api-keys', { name: 'short lived', role: 'viewer' });
    expect(made.res.status).toBe(201);
    const keyId = made.res.body.apiKey.id;
    expect(one(made.events)).toEqual(
      expect.objectContaining({ ...asAdmin, action: 'api-key.create', target_type: 'api-key', target_id: keyId, secret_id: null, outcome: 'success' }),
    );
    expect(JSON.stringify(made.events)).not.toContain(made.res.body.token.slice(3));
    const badMade = await audited(admin, 'POST', '/v1/api-keys', { name: 'x', role: 'superuser' });
    expect(badMade.res.status).toBe(400);
    expect(one(badMade.events)).toEqual(expect.objectContaining({ ...asAdmin, action: 'api-key.create', outcome: 'failure', error_code: 'VALIDATION_FAILED' }));
    const revoked = await audited(admin, 'DELETE', `/v1/api-keys/${keyId}`);
    expect(revoked.res.status).toBe(200);
    expect(one(revoked.events)).toEqual(expect.objectContaining({ ...asAdmin, action: 'api-key.revoke', target_id: keyId, outcome: 'success' }));
    const unknownKey = randomUUID();
    const badRevoke = await audited(admin, 'DELETE', `/v1/api-keys/${unknownKey}`);
    expect(badRevoke.res.status).toBe(404);
    expect(one(badRevoke.events)).toEqual(
      expect.objectContaining({ ...asAdmin, action: 'api-key.revoke', target_id: unknownKey, outcome: 'failure', error_code: 'API_KEY_NOT_FOUND' }),
    );

    // rotation.request
    const rotKey = await ops.post('/v1/secrets', remember(keyBody()));
    const rot = await audited(ops, 'POST', `/v1/secrets/${rotKey.body.id}/rotations`);
    expect(rot.res.status).toBe(202);
    expect(one(rot.events)).toEqual(expect.objectContaining({ ...asOps, action: 'rotation.request', secret_id: rotKey.body.id, outcome: 'success' }));
    const badRot = await audited(ops, 'POST', `/v1/secrets/${missing}/rotations`);
    expect(badRot.res.status).toBe(404);
    expect(one(badRot.events)).toEqual(expect.objectContaining({ ...asOps, action: 'rotation.request', outcome: 'failure', error_code: 'SECRET_NOT_FOUND' }));

    // heartbeat.request
    const hb = await audited(ops, 'POST', `/v1/secrets/${rotKey.body.id}/heartbeats`);
    expect(hb.res.status).toBe(202);
    expect(one(hb.events)).toEqual(expect.objectContaining({ ...asOps, action: 'heartbeat.request', secret_id: rotKey.body.id, outcome: 'success' }));

    // Reads that are not audited leave no event.
    const list = await audited(ops, 'GET', '/v1/secrets');
    expect(list.res.status).toBe(200);
    expect(list.events).toEqual([]);
  });

  it('records a refused attempt by a known key (wrong role, outside its folders) as one failure event', async () => {
    const target = await admin.post('/v1/secrets', remember(keyBody()));
    const id = target.body.id;
    const v = client(api.url, viewer.token);
    const denied = await audited(v, 'GET', `/v1/secrets/${id}/value`);
    expect(denied.res.status).toBe(403);
    expect(one(denied.events)).toEqual(
      expect.objectContaining({
        actor_id: viewer.id,
        actor_name: 'read only',
        action: 'secret.value.read',
        target_id: id,
        secret_id: id,
        outcome: 'failure',
        error_code: 'FORBIDDEN',
        request_id: denied.requestId,
      }),
    );
    const deniedCreate = await audited(v, 'POST', '/v1/secrets', remember(keyBody()));
    expect(deniedCreate.res.status).toBe(403);
    expect(one(deniedCreate.events)).toEqual(expect.objectContaining({ actor_id: viewer.id, action: 'secret.create', outcome: 'failure', error_code: 'FORBIDDEN' }));

    const scoped = client(api.url, (await createApiKey(admin, 'operator', { name: 'scoped ops', folderScopes: ['/elsewhere'] })).token);
    const outOfScope = await audited(scoped, 'POST', '/v1/secrets', remember(keyBody()));
    expect(outOfScope.res.status).toBe(403);
    expect(one(outOfScope.events)).toEqual(expect.objectContaining({ actor_name: 'scoped ops', action: 'secret.create', outcome: 'failure', error_code: 'FOLDER_OUT_OF_SCOPE' }));
    const hidden = await audited(scoped, 'GET', `/v1/secrets/${id}/value`);
    expect(hidden.res.status).toBe(404);
    expect(one(hidden.events)).toEqual(expect.objectContaining({ actor_name: 'scoped ops', action: 'secret.value.read', outcome: 'failure', error_code: 'SECRET_NOT_FOUND' }));

    // Without a valid key there is no actor to record (the limiter counts these instead).
    const anonymous = await audited(client(api.url), 'GET', `/v1/secrets/${id}/value`);
    expect(anonymous.res.status).toBe(401);
    expect(anonymous.events).toEqual([]);
  });

  it('keeps one event per request when the request id or path is oversized', async () => {
    const ops = client(api.url, operator.token);
    const longId = 'r'.repeat(300);
    const body = remember(keyBody());
    const res = await ops.post('/v1/secrets', body, { headers: { 'x-request-id': longId } });
    expect(res.status).toBe(201);
    const events = (await db.query<EventRow>('SELECT * FROM audit_events WHERE target_id = $1', [res.body.id])).rows;
    expect(events).toHaveLength(1);
    expect(events[0]).toEqual(expect.objectContaining({ action: 'secret.create', outcome: 'success' }));

    // Fastify refuses path parameters over 100 characters (414) before any route runs.
    const tooLong = await ops.get(`/v1/secrets/${'x'.repeat(300)}/value`);
    expect(tooLong.status).toBe(414);
    expect(tooLong.body).toEqual(expect.objectContaining({ statusCode: 414, code: expect.stringMatching(/^[A-Z_]+$/), message: expect.any(String) }));
    const junk = 'x'.repeat(100);
    const requestId = `req-${randomUUID()}`;
    const bad = await ops.get(`/v1/secrets/${junk}/value`, { headers: { 'x-request-id': requestId } });
    expect([bad.status, bad.body.code]).toEqual([400, 'INVALID_ID']);
    const badEvents = (await db.query<EventRow>('SELECT * FROM audit_events WHERE request_id = $1', [requestId])).rows;
    expect(badEvents).toHaveLength(1);
    expect(badEvents[0]).toEqual(expect.objectContaining({ action: 'secret.value.read', outcome: 'failure', error_code: 'INVALID_ID' }));
  });

  it('never stores a secret value in any event', async () => {
    // One more of each kind of write that carries secret fields, including refused ones.
    const ops = client(api.url, operator.token);
    const pwKey = await ops.post('/v1/secrets', remember(keyBody()));
    await ops.post(
      '/v1/secrets',
      remember({ type: 'aws-iam-console-password', name: `pw ${++seq}`, folder: '/audit', username: 'u', accountId: ACCOUNT, password: 'Audit-Me-Not-123!', privilegedSecretId: pwKey.body.id }),
    );
    await ops.post('/v1/secrets', remember(keyBody({ password: 'Not-Allowed-Here-456' })));
    await ops.patch(`/v1/secrets/${pwKey.body.id}`, remember({ secretAccessKey: fakeKey().secretAccessKey }));
    await ops.get(`/v1/secrets/${pwKey.body.id}/value`);

    expect(sentSecrets.length).toBeGreaterThan(10);
    const all = JSON.stringify((await db.query('SELECT * FROM audit_events')).rows);
    expect(all.length).toBeGreaterThan(1000);
    for (const s of sentSecrets) expect(all).not.toContain(s);
    // Not even the visible part of an access key id beyond what a key hint shows.
    for (const s of sentSecrets.filter((x) => /^AKIA/.test(x))) expect(all).not.toContain(s.slice(4));
  });

  it('GET /v1/audit filters by secret, action, actor and time, newest first with keyset pagination', async () => {
    const ops = client(api.url, operator.token);
    const before = new Date(Date.now() - 1);
    const a = await ops.post('/v1/secrets', remember(keyBody()));
    const b = await ops.post('/v1/secrets', remember(keyBody()));
    for (let i = 0; i < 3; i++) await ops.get(`/v1/secrets/${a.body.id}/value`);
    await admin.get(`/v1/secrets/${b.body.id}/value`);
    const after = new Date(Date.now() + 1);

    const bySecret = await auditor.get(`/v1/audit?secretId=${a.body.id}`);
    expect(bySecret.status).toBe(200);
    expect(bySecret.body.items.map((e: { action: string }) => e.action)).toEqual(['secret.value.read', 'secret.value.read', 'secret.value.read', 'secret.create']);
    expect(bySecret.body.items.every((e: { secretId: string }) => e.secretId === a.body.id)).toBe(true);
    expect(bySecret.body.items[0]).toEqual(
      expect.objectContaining({ actor: { id: operator.id, name: 'ops robot' }, targetType: 'secret', targetId: a.body.id, outcome: 'success', requestId: expect.any(String) }),
    );

    const reads = await auditor.get(`/v1/audit?action=secret.value.read&secretId=${b.body.id}`);
    expect(reads.body.items).toHaveLength(1);
    expect(reads.body.items[0].actor.id).toBe(adminId);

    const byActor = await auditor.get(`/v1/audit?actorId=${operator.id}&limit=500`);
    expect(byActor.body.items.length).toBeGreaterThan(5);
    expect(byActor.body.items.every((e: { actor: { id: string } }) => e.actor.id === operator.id)).toBe(true);

    const window = await auditor.get(`/v1/audit?from=${before.toISOString()}&to=${after.toISOString()}&limit=500`);
    expect(window.body.items.map((e: { action: string }) => e.action).sort()).toEqual(
      ['secret.create', 'secret.create', 'secret.value.read', 'secret.value.read', 'secret.value.read', 'secret.value.read'].sort(),
    );
    const future = await auditor.get(`/v1/audit?from=${after.toISOString()}`);
    expect(future.body).toEqual({ items: [], nextCursor: null });

    // Every event exactly once, newest first, across pages.
    const total = Number((await db.query('SELECT count(*) FROM audit_events')).rows[0].count);
    const seen: { id: string; at: string }[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const page: ApiResponse = await auditor.get(`/v1/audit?limit=4${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
      expect(page.status).toBe(200);
      expect(page.body.items.length).toBeLessThanOrEqual(4);
      seen.push(...page.body.items);
      cursor = page.body.nextCursor;
      pages++;
    } while (cursor && pages < 500);
    expect(cursor).toBeNull();
    // Reading the audit log is not itself an audited action, so the count holds still.
    expect(seen).toHaveLength(total);
    expect(new Set(seen.map((e) => e.id)).size).toBe(total);
    const ids = seen.map((e) => e.id);
    expect(ids).toEqual([...ids].sort().reverse());
    for (let i = 1; i < seen.length; i++) expect(Date.parse(seen[i - 1].at)).toBeGreaterThanOrEqual(Date.parse(seen[i].at));
    expect(JSON.stringify(seen)).not.toContain(sentSecrets[0]);
  });

  it('shows a scoped auditor only the events of secrets within its folders (deleted secrets and events without a secret fail closed)', async () => {
    const make = async (folder: string) => {
      const r = await admin.post('/v1/secrets', remember(keyBody({ folder })));
      expect(r.status).toBe(201);
      expect((await admin.get(`/v1/secrets/${r.body.id}/value`)).status).toBe(200);
      return r.body.id as string;
    };
    const inside = await make('/team-a/app');
    const outside = await make('/team-b');
    const sibling = await make('/team-ab');
    const gone = await make('/team-a/old');
    expect((await admin.del(`/v1/secrets/${gone}`)).status).toBe(200);

    const scoped = client(api.url, (await createApiKey(admin, 'auditor', { name: 'team-a auditor', folderScopes: ['/team-a'] })).token);
    const everything = async (c: Client, query = '') => {
      const items: { id: string; secretId: string | null; action: string }[] = [];
      let cursor: string | null = null;
      do {
        const page: ApiResponse = await c.get(`/v1/audit?limit=3${query}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
        expect(page.status).toBe(200);
        items.push(...page.body.items);
        cursor = page.body.nextCursor;
      } while (cursor);
      return items;
    };

    const seen = await everything(scoped);
    expect(seen.map((e) => e.action).sort()).toEqual(['secret.create', 'secret.value.read']);
    expect(seen.every((e) => e.secretId === inside)).toBe(true);
    for (const id of [outside, sibling]) expect((await scoped.get(`/v1/audit?secretId=${id}`)).body).toEqual({ items: [], nextCursor: null });
    expect((await scoped.get(`/v1/audit?secretId=${gone}`)).body).toEqual({ items: [], nextCursor: null });
    expect((await everything(scoped, `&actorId=${adminId}`)).every((e) => e.secretId === inside)).toBe(true);
    expect(await everything(scoped, '&action=api-key.create')).toEqual([]);

    // An unscoped auditor still sees everything, including deleted secrets and events without a secret.
    const all = await everything(auditor, '&action=secret.value.read');
    for (const id of [inside, outside, sibling, gone]) expect(all.map((e) => e.secretId)).toContain(id);
    expect((await auditor.get('/v1/audit?action=api-key.create')).body.items.length).toBeGreaterThan(0);
  });

  it('is append-only in the database: UPDATE, DELETE and TRUNCATE are refused', async () => {
    const before = (await db.query('SELECT * FROM audit_events ORDER BY id')).rows;
    expect(before.length).toBeGreaterThan(0);
    await expect(db.query(`UPDATE audit_events SET actor_name = 'someone else'`)).rejects.toThrow(/append-only/);
    await expect(db.query(`UPDATE audit_events SET outcome = 'success' WHERE id = $1`, [before[0].id])).rejects.toThrow(/append-only/);
    await expect(db.query(`DELETE FROM audit_events WHERE id = $1`, [before[0].id])).rejects.toThrow(/append-only/);
    await expect(db.query('DELETE FROM audit_events')).rejects.toThrow(/append-only/);
    await expect(db.query('TRUNCATE audit_events')).rejects.toThrow(/append-only/);
    await expect(db.query('TRUNCATE audit_events CASCADE')).rejects.toThrow(/append-only/);
    const after = (await db.query('SELECT * FROM audit_events ORDER BY id')).rows;
    expect(after).toEqual(before);
  });
});
