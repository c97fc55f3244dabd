#!/usr/bin/env node
// `npm run bench:list [-- --rows 1000000]`: keyset pagination of GET /v1/secrets over a large table.
// Prints figures; asserts nothing. Uses a throwaway database on the local Postgres.
import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import pg from 'pg';

const { values } = parseArgs({ options: { rows: { type: 'string', default: '1000000' }, samples: { type: 'string', default: '30' } } });
const ROWS = Number(values.rows);
const SAMPLES = Number(values.samples);
const ADMIN = process.env.BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const name = `keyturn_bench_${randomBytes(3).toString('hex')}`;
const dbUrl = ADMIN.replace(/\/[^/]*$/, `/${name}`);

const { loadConfig } = await import('../dist/libs/config/src/index.js');
const { generateMasterKey } = await import('../dist/libs/crypto/src/index.js');
const { generateToken } = await import('../dist/libs/auth/src/index.js');
const { createApi } = await import('../dist/apps/secrets-api/src/bootstrap.js');

const admin = new pg.Client({ connectionString: ADMIN });
await admin.connect();
await admin.query(`CREATE DATABASE ${name}`);
const token = generateToken();
const config = loadConfig({
  NODE_ENV: 'test', LOG_LEVEL: 'error', DATABASE_URL: dbUrl, KEYTURN_MASTER_KEY: generateMasterKey(),
  KEYTURN_BOOTSTRAP_ADMIN_TOKEN: token, KEYTURN_QUEUE_PREFIX: `kt-${name}`,
});
let app;
try {
  app = await createApi(config, { docs: false });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const base = `http://127.0.0.1:${app.getHttpServer().address().port}`;
  const db = new pg.Client({ connectionString: dbUrl });
  await db.connect();

  let t = Date.now();
  // Ids in time order, as uuidv7 makes them: the first 12 hex digits carry the row number.
  await db.query(`
    INSERT INTO secrets (id, type, name, folder, username, account_id, heartbeat_status)
    SELECT (lpad(to_hex(i), 12, '0') || '-7000-8000-' || substr(md5(i::text), 1, 12))::uuid,
           CASE WHEN i % 10 = 0 THEN 'aws-iam-console-password' ELSE 'aws-iam-key' END,
           'bench-' || i, '/team-' || (i % 100) || '/prod', 'user-' || i, '123456789012',
           CASE WHEN i % 50 = 0 THEN 'failed' ELSE 'success' END
      FROM generate_series(1, $1) AS i`, [ROWS]);
  await db.query('ANALYZE secrets');
  console.log(`inserted ${ROWS.toLocaleString()} secrets in ${((Date.now() - t) / 1000).toFixed(1)} s`);

  const get = async (path) => {
    const s = performance.now();
    const r = await fetch(base + path, { headers: { authorization: `Bearer ${token}` } });
    const body = await r.json();
    if (r.status !== 200) throw new Error(`${path}: ${r.status} ${JSON.stringify(body)}`);
    return { ms: performance.now() - s, body };
  };
  const mid = (await db.query(`SELECT id FROM secrets ORDER BY id OFFSET $1 LIMIT 1`, [Math.floor(ROWS / 2)])).rows[0].id;
  const cursor = Buffer.from(mid).toString('base64url');
  const cases = [
    ['first page (limit 50)', '/v1/secrets?limit=50'],
    ['page at the middle (cursor)', `/v1/secrets?limit=50&cursor=${cursor}`],
    ['type filter, middle', `/v1/secrets?limit=50&type=aws-iam-console-password&cursor=${cursor}`],
    ['folder filter (1% of rows)', '/v1/secrets?limit=50&folder=/team-42'],
    ['heartbeatStatus=failed (2%)', '/v1/secrets?limit=50&heartbeatStatus=failed'],
  ];
  console.log(`\n${'case'.padEnd(32)} ${'p50 ms'.padStart(8)} ${'p95 ms'.padStart(8)} ${'max ms'.padStart(8)}`);
  for (const [label, path] of cases) {
    await get(path); // warm
    const ms = [];
    for (let i = 0; i < SAMPLES; i++) ms.push((await get(path)).ms);
    ms.sort((a, b) => a - b);
    const q = (p) => ms[Math.min(ms.length - 1, Math.floor(p * ms.length))].toFixed(1);
    console.log(`${label.padEnd(32)} ${q(0.5).padStart(8)} ${q(0.95).padStart(8)} ${ms[ms.length - 1].toFixed(1).padStart(8)}`);
  }
  // Walk 20 pages from the middle: each page costs the same, wherever it is.
  t = performance.now();
  let c = cursor;
  for (let i = 0; i < 20; i++) c = (await get(`/v1/secrets?limit=100&cursor=${c}`)).body.nextCursor;
  console.log(`\n20 consecutive pages of 100 from the middle: ${(performance.now() - t).toFixed(0)} ms in all`);
  const plan = await db.query(`EXPLAIN SELECT * FROM secrets s WHERE s.id > $1 ORDER BY s.id ASC LIMIT 51`, [mid]);
  console.log(`plan: ${plan.rows.map((r) => r['QUERY PLAN']).join(' | ')}`);
  await db.end();
} finally {
  await app?.close();
  await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  await admin.end();
}
