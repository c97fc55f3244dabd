#!/usr/bin/env node
// The raw baseline of `npm run bench:heartbeat` and `npm run bench:rotation` (docs/performance.md,
// "Heartbeats and rotations"): a plain AWS SDK loop at a fixed concurrency, making the same AWS calls
// Keyturn makes, with the minimum durable Postgres work each result needs (read the key, record the
// outcome; for a rotation, store the new key before verifying it and promote it in one transaction),
// on Keyturn's own tables. No queue, no pacer, no leases, no journal. A child process of the bench,
// like Keyturn's worker, so neither shares a thread with the emulator. Its statements are named (pg
// prepares each once per connection), as Keyturn's hot-path statements are (NamedSql in libs/store).
//
// stdin: one JSON line {mode, listKeys, dbUrl, masterKey, endpoint, concurrency, secrets: [{id, username, accountId}]};
// prints "ready", waits for "go", runs, prints {"done": n, "failed": n, "endedAt": ms since the epoch}, waits for the next "go" or EOF.
import { createInterface } from 'node:readline';
import { IAMClient, CreateAccessKeyCommand, DeleteAccessKeyCommand, ListAccessKeysCommand, UpdateAccessKeyCommand } from '@aws-sdk/client-iam';
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import pg from 'pg';

const { EnvelopeCipher, keyringFromStrings } = await import('../dist/libs/crypto/src/index.js');
const { envelopeVersionCipher } = await import('../dist/libs/vault/src/index.js');

// Stopped by the bench with SIGTERM: exit normally, so a profile asked for (BENCH_RAW_NODE_ARGS="--cpu-prof …") is written.
process.once('SIGTERM', () => process.exit(0));
const lines = createInterface({ input: process.stdin });
const next = (() => {
  const it = lines[Symbol.asyncIterator]();
  return async () => (await it.next()).value;
})();
const job = JSON.parse(await next());
const cipher = envelopeVersionCipher(new EnvelopeCipher(keyringFromStrings(job.masterKey)));
const pool = new pg.Pool({ connectionString: job.dbUrl, max: job.concurrency + 2 });
const region = 'us-east-1';
// SDK clients cached per key, as Keyturn's adapter caches them, and one HTTP handler (keep-alive sockets)
// shared by all of them, as Keyturn's adapter shares its: with a handler per client, each key's first call
// of a pass opened a connection of its own, work Keyturn does not do.
const clients = new Map();
const requestHandler = new NodeHttpHandler({ httpAgent: { keepAlive: true, maxSockets: Infinity }, httpsAgent: { keepAlive: true, maxSockets: Infinity } });
const clientsOf = (c) => {
  let pair = clients.get(c.accessKeyId);
  if (!pair) {
    const config = { region, endpoint: job.endpoint, credentials: c, maxAttempts: 3, requestHandler };
    pair = { sts: new STSClient(config), iam: new IAMClient(config) };
    clients.set(c.accessKeyId, pair);
  }
  return pair;
};
const sts = (c) => clientsOf(c).sts;
const iam = (c) => clientsOf(c).iam;

const readLive = async (secretId) => {
  const { rows } = await pool.query({ name: 'raw_read_live', text: `SELECT * FROM secret_versions WHERE secret_id = $1 AND state IN ('current', 'previous')` }, [secretId]);
  const open = (r) => r && { row: r, fields: cipher.open({ secretId: r.secret_id, version: r.version, kekId: r.kek_id, wrappedKey: r.wrapped_key, fields: r.fields }) };
  return { current: open(rows.find((r) => r.state === 'current')), previous: open(rows.find((r) => r.state === 'previous')) };
};
const credsOf = (v) => ({ accessKeyId: v.fields.accessKeyId, secretAccessKey: v.fields.secretAccessKey });

async function heartbeat(s) {
  const { current } = await readLive(s.id);
  const id = await sts(credsOf(current)).send(new GetCallerIdentityCommand({}));
  if (!id.Arn.endsWith(`:user/${s.username}`)) throw new Error('wrong user');
  if (job.listKeys) await iam(credsOf(current)).send(new ListAccessKeysCommand({ UserName: s.username }));
  await pool.query(
    {
      name: 'raw_heartbeat_record',
      text: `WITH h AS (INSERT INTO heartbeats (id, secret_id, status, outcome, trigger, requested_by, checked_arn, attempt, finished_at)
                VALUES (gen_random_uuid(), $1, 'done', 'success', 'api', 'bench:raw', $2, 1, now())),
          s AS (UPDATE secrets SET heartbeat_status = 'success', heartbeat_failures = 0, last_heartbeat_at = now() WHERE id = $1)
     UPDATE heartbeat_due SET due_at = now() + interval '1 hour' WHERE secret_id = $1`,
    },
    [s.id, id.Arn],
  );
}

async function rotation(s) {
  const { current, previous } = await readLive(s.id);
  const own = iam(credsOf(current));
  await sts(credsOf(current)).send(new GetCallerIdentityCommand({}));
  const keys = (await own.send(new ListAccessKeysCommand({ UserName: s.username }))).AccessKeyMetadata ?? [];
  if (keys.length >= 2 && previous) {
    await own.send(new DeleteAccessKeyCommand({ UserName: s.username, AccessKeyId: previous.fields.accessKeyId }));
    await pool.query({ name: 'raw_retire_previous', text: `UPDATE secret_versions SET state = 'retired' WHERE id = $1` }, [previous.row.id]);
  }
  const made = (await own.send(new CreateAccessKeyCommand({ UserName: s.username }))).AccessKey;
  const fields = { accessKeyId: made.AccessKeyId, secretAccessKey: made.SecretAccessKey };
  // Stored before anything else can fail: AWS shows the secret once.
  const { rows: [{ version_counter: version }] } = await pool.query(
    { name: 'raw_next_version', text: `UPDATE secrets SET version_counter = version_counter + 1 WHERE id = $1 RETURNING version_counter` },
    [s.id],
  );
  const sealed = cipher.seal(s.id, version, 'pending', fields);
  await pool.query(
    {
      name: 'raw_insert_pending',
      text: `INSERT INTO secret_versions (id, secret_id, version, state, kek_id, wrapped_key, fields, key_hint, key_id_hmac) VALUES ($1, $2, $3, 'pending', $4, $5, $6, $7, $8)`,
    },
    [sealed.id, s.id, version, sealed.kekId, sealed.wrappedKey, sealed.fields, sealed.keyHint, sealed.keyIdHmac],
  );
  await sts(fields).send(new GetCallerIdentityCommand({}));
  const c = await pool.connect();
  try {
    await c.query('BEGIN');
    await c.query({ name: 'raw_current_to_previous', text: `UPDATE secret_versions SET state = 'previous' WHERE secret_id = $1 AND state = 'current'` }, [s.id]);
    await c.query({ name: 'raw_pending_to_current', text: `UPDATE secret_versions SET state = 'current' WHERE id = $1` }, [sealed.id]);
    await c.query({ name: 'raw_mark_rotated', text: `UPDATE secrets SET last_rotated_at = now() WHERE id = $1` }, [s.id]);
    await c.query('COMMIT');
  } finally {
    c.release();
  }
  await iam(fields).send(new UpdateAccessKeyCommand({ UserName: s.username, AccessKeyId: current.fields.accessKeyId, Status: 'Inactive' }));
}

const work = job.mode === 'heartbeat' ? heartbeat : rotation;
console.log('ready');
while ((await next()) === 'go') {
  let i = 0;
  let failed = 0;
  const lane = async () => {
    while (i < job.secrets.length) {
      const s = job.secrets[i++];
      await work(s).catch((e) => {
        failed++;
        console.error(`raw ${job.mode} failed: ${e.message}`);
      });
    }
  };
  await Promise.all(Array.from({ length: job.concurrency }, lane));
  const endedAt = Date.now();
  console.log(JSON.stringify({ done: job.secrets.length - failed, failed, endedAt }));
}
await pool.end();
