import { Command, CommanderError, Option } from 'commander';
import { ApiError, KeyturnApi, UsageError } from './api-client.js';
import { fields, table } from './table.js';
import { discoveriesCommands } from './discoveries.command.js';
import type { HeartbeatView, RotationView } from '@keyturn/secrets';

/**
 * Operator commands: they talk to a running API (KEYTURN_URL, KEYTURN_TOKEN)
 * as any API client does, so roles, folder scopes and the audit log apply.
 * Only `secrets value` ever prints a secret field.
 */
export const OPERATOR_COMMANDS = ['secrets', 'rotations', 'queues', 'discoveries'];

/** Exit codes: 0 done, 1 the API refused or the work failed, 2 usage, 69 the API does not answer. */
export const EXIT = { OK: 0, FAILED: 1, USAGE: 2, UNAVAILABLE: 69 } as const;

interface Io {
  out(s: string): void;
  err(s: string): void;
  /** The whole of standard input (secret material for `secrets create`). */
  stdin(): Promise<string>;
  env: NodeJS.ProcessEnv;
}

const processIo: Io = {
  out: (s) => void process.stdout.write(s + '\n'),
  err: (s) => void process.stderr.write(s + '\n'),
  stdin: async () => {
    if (process.stdin.isTTY) throw new UsageError('pipe the secret material on standard input (it is never taken from the command line)');
    const chunks: Buffer[] = [];
    for await (const c of process.stdin) chunks.push(c as Buffer);
    return Buffer.concat(chunks).toString('utf8');
  },
  env: process.env,
};

/** The API's answers, as libs/secrets shapes them (type-only: the CLI talks to the API over HTTP). */
type Rotation = RotationView;

/** What the commands show of a secret's metadata. */
interface SecretView {
  id: string;
  type: string;
  name: string;
  folder: string;
  username: string;
  accountId: string;
  privilegedSecretId: string | null;
  currentVersion?: number | null;
  heartbeatStatus: string;
  lastHeartbeatAt: string | null;
  nextHeartbeatAt: string | null;
  lastRotatedAt: string | null;
  createdAt: string;
  updatedAt: string;
  settings: Record<string, unknown>;
}

type Heartbeat = HeartbeatView;

const TYPES: Record<string, string> = {
  key: 'aws-iam-key',
  'aws-iam-key': 'aws-iam-key',
  password: 'aws-iam-console-password',
  'aws-iam-console-password': 'aws-iam-console-password',
};

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const id = (v: string) => {
  if (!UUID.test(v)) throw new UsageError(`not an id: ${v}`);
  return v.toLowerCase();
};
const positiveInt = (name: string) => (v: string) => {
  if (!/^\d+$/.test(v) || Number(v) < 1) throw new UsageError(`${name} must be a whole number above 0`);
  return Number(v);
};
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const time = (iso: string | null | undefined) => (iso ? iso.replace('T', ' ').replace(/\.\d+Z$/, 'Z') : '-');

function rotationFields(r: Rotation): string {
  return fields([
    ['rotation', r.id],
    ['secret', r.secretId],
    ['type', r.secretType],
    ['status', r.status],
    ['step', r.step],
    ['mode', r.mode],
    ['attempt', r.attempt],
    ['trigger', r.trigger],
    ['created', time(r.createdAt)],
    ['started', time(r.startedAt)],
    ['finished', time(r.finishedAt)],
    ...(r.errorCode ? ([['error', `${r.errorCode}: ${r.errorMessage ?? ''}`]] as [string, unknown][]) : []),
    ...r.warnings.map((w): [string, unknown] => ['warning', `${w.code}: ${w.message}`]),
  ]);
}

function heartbeatFields(h: Heartbeat): string {
  return fields([
    ['heartbeat', h.id],
    ['secret', h.secretId],
    ['status', h.status],
    ['outcome', h.outcome],
    ['answered as', h.checkedArn],
    ['key status', h.keyStatus],
    ['key age (days)', h.keyAgeDays],
    ['created', time(h.createdAt)],
    ['finished', time(h.finishedAt)],
    ...(h.errorCode ? ([['error', `${h.errorCode}: ${h.errorMessage ?? ''}`]] as [string, unknown][]) : []),
  ]);
}

/** Polls until `done`, calling `onChange` whenever `key` of the answer changes (the steps as they happen). */
async function follow<T>(
  load: () => Promise<T>,
  key: (v: T) => string,
  done: (v: T) => boolean,
  onChange: (v: T) => void,
  timeoutSeconds: number,
  what: string,
): Promise<T> {
  const end = Date.now() + timeoutSeconds * 1000;
  let last = '';
  for (;;) {
    const v = await load();
    const k = key(v);
    if (k !== last) {
      last = k;
      onChange(v);
    }
    if (done(v)) return v;
    if (Date.now() > end) throw new UsageError(`${what} has not finished after ${timeoutSeconds} s (it goes on; look again later)`, EXIT.FAILED);
    await sleep(500);
  }
}

export function buildProgram(io: Io = processIo): { program: Command; exitCode: () => number } {
  let exitCode: number = EXIT.OK;
  const api = () => KeyturnApi.fromEnv(io.env);
  const json = (v: unknown) => io.out(JSON.stringify(v, null, 2));
  /** Follows a rotation until it ends, printing each step unless `quiet`; warnings are printed at the end. */
  const followRotation = async (client: KeyturnApi, rotationId: string, timeoutSeconds: number, quiet: boolean): Promise<Rotation> => {
    const r = await follow(
      async () => (await client.get<Rotation>(`/v1/rotations/${rotationId}`)).body,
      (v) => `${v.status}/${v.step}`,
      (v) => v.status === 'succeeded' || v.status === 'failed',
      (v) => quiet || io.out(`${time(new Date().toISOString())}  ${v.status.padEnd(9)} ${v.step}`),
      timeoutSeconds,
      `rotation ${rotationId}`,
    );
    return r;
  };
  const program = new Command('keyturn')
    .usage('<command> [options]')
    .description('Operator commands for a running Keyturn API (KEYTURN_URL, KEYTURN_TOKEN)')
    .exitOverride()
    .configureOutput({ writeOut: (s) => io.out(s.trimEnd()), writeErr: (s) => io.err(s.trimEnd()) })
    .showHelpAfterError();

  const secrets = program.command('secrets').description('stored secrets: list, get, create, value, rotate, heartbeat');

  secrets
    .command('list')
    .description('secrets (metadata only), newest first')
    .option('--type <type>', 'key or password')
    .option('--folder <folder>', 'a folder and everything under it')
    .option('--heartbeat-status <status>', 'unknown, success, failed, unable-to-connect, not-supported')
    .option('--limit <n>', 'at most this many (all by default)', positiveInt('--limit'))
    .option('--json', 'JSON for scripts')
    .action(async (o: { type?: string; folder?: string; heartbeatStatus?: string; limit?: number; json?: boolean }) => {
      const items: SecretView[] = [];
      let cursor: string | null = null;
      do {
        const q = new URLSearchParams({ limit: String(Math.min(o.limit ?? 500, 500)) });
        if (o.type) q.set('type', TYPES[o.type] ?? o.type);
        if (o.folder) q.set('folder', o.folder);
        if (o.heartbeatStatus) q.set('heartbeatStatus', o.heartbeatStatus);
        if (cursor) q.set('cursor', cursor);
        const page = await api().get<{ items: SecretView[]; nextCursor: string | null }>(`/v1/secrets?${q}`);
        items.push(...page.body.items);
        cursor = page.body.nextCursor;
      } while (cursor && (o.limit === undefined || items.length < o.limit));
      const shown = o.limit === undefined ? items : items.slice(0, o.limit);
      if (o.json) return json(shown);
      io.out(
        table(
          [
            { header: 'id', value: (s) => s.id },
            { header: 'type', value: (s) => s.type },
            { header: 'name', value: (s) => s.name },
            { header: 'folder', value: (s) => s.folder },
            { header: 'user', value: (s) => s.username },
            { header: 'account', value: (s) => s.accountId },
            { header: 'heartbeat', value: (s) => s.heartbeatStatus },
            { header: 'last rotated', value: (s) => time(s.lastRotatedAt) },
          ],
          shown,
        ),
      );
    });

  secrets
    .command('get <id>')
    .description("a secret's metadata (never a secret field)")
    .option('--json', 'JSON for scripts')
    .action(async (raw: string, o: { json?: boolean }) => {
      const { body: s } = await api().get<SecretView>(`/v1/secrets/${id(raw)}`);
      if (o.json) return json(s);
      io.out(
        fields([
          ['id', s.id],
          ['type', s.type],
          ['name', s.name],
          ['folder', s.folder],
          ['user', s.username],
          ['account', s.accountId],
          ['privileged secret', s.privilegedSecretId],
          ['version', s.currentVersion],
          ['heartbeat', s.heartbeatStatus],
          ['last heartbeat', time(s.lastHeartbeatAt)],
          ['next heartbeat', time(s.nextHeartbeatAt)],
          ['last rotated', time(s.lastRotatedAt)],
          ['created', time(s.createdAt)],
          ['updated', time(s.updatedAt)],
          ['own settings', s.settings],
        ]),
      );
    });

  secrets
    .command('create')
    .description('store a secret; its secret material (secret access key or password) is read from standard input')
    .addOption(new Option('--type <type>', 'what it is').choices(Object.keys(TYPES)).makeOptionMandatory())
    .requiredOption('--name <name>', 'a name, unique within its folder')
    .option('--folder <folder>', 'e.g. /team/prod', '/')
    .requiredOption('--username <user>', 'the IAM user name')
    .requiredOption('--account-id <id>', 'the 12-digit AWS account id')
    .option('--access-key-id <id>', 'key only: the access key id (AKIA…)')
    .option('--privileged-secret-id <id>', 'a key secret that changes this one (privileged mode)')
    .option('--json', 'JSON for scripts')
    .action(async (o: { type: string; name: string; folder: string; username: string; accountId: string; accessKeyId?: string; privilegedSecretId?: string; json?: boolean }) => {
      const type = TYPES[o.type];
      // One trailing newline (echo, a file) is not part of the secret.
      const material = (await io.stdin()).replace(/\r?\n$/, '');
      if (!material) throw new UsageError('standard input is empty: pipe the secret access key or the password');
      const body: Record<string, unknown> = { type, name: o.name, folder: o.folder, username: o.username, accountId: o.accountId };
      if (type === 'aws-iam-key') {
        if (!o.accessKeyId) throw new UsageError('--access-key-id is required for a key');
        Object.assign(body, { accessKeyId: o.accessKeyId, secretAccessKey: material });
      } else {
        body.password = material;
      }
      if (o.privilegedSecretId) body.privilegedSecretId = id(o.privilegedSecretId);
      const { body: s } = await api().post<SecretView>('/v1/secrets', body);
      if (o.json) return json(s);
      io.out(fields([['created', s.id], ['type', s.type], ['name', s.name], ['folder', s.folder], ['user', s.username], ['account', s.accountId]]));
    });

  secrets
    .command('value <id>')
    .description('print the secret fields of the current version (audited: it is a secret read)')
    .option('--json', 'JSON for scripts')
    .action(async (raw: string, o: { json?: boolean }) => {
      const { body: v } = await api().get<{ id: string; version: number; fields: Record<string, string> }>(`/v1/secrets/${id(raw)}/value`);
      if (o.json) return json(v);
      io.out(fields([['version', v.version], ...Object.entries(v.fields)]));
    });

  secrets
    .command('rotate <id>')
    .description('change the secret now; --wait follows the steps and fails (exit 1) with the error code if the change fails')
    .option('--wait', 'wait for the change to finish, showing its steps')
    .option('--timeout <seconds>', 'with --wait: stop waiting after this long', positiveInt('--timeout'), 900)
    .option('--idempotency-key <key>', 'a retry with the same key returns the same rotation')
    .option('--json', 'JSON for scripts (the final rotation with --wait)')
    .action(async (raw: string, o: { wait?: boolean; timeout: number; idempotencyKey?: string; json?: boolean }) => {
      const client = api();
      const started = await client.post<Rotation>(`/v1/secrets/${id(raw)}/rotations`, undefined, o.idempotencyKey ? { 'idempotency-key': o.idempotencyKey } : {});
      const replayed = started.headers.get('idempotent-replayed') === 'true';
      if (!o.wait) {
        if (o.json) return json(started.body);
        io.out(`rotation ${started.body.id} ${replayed ? 'was already waiting' : 'requested'} (${started.body.status})`);
        return;
      }
      if (!o.json) io.out(`rotation ${started.body.id}${replayed ? ' (already waiting)' : ''}`);
      const r = await followRotation(client, started.body.id, o.timeout, o.json === true);
      if (o.json) json(r);
      else for (const w of r.warnings) io.out(`warning ${w.code}: ${w.message}`);
      if (r.status === 'failed') {
        io.err(`keyturn: rotation ${r.id} failed: ${r.errorCode}: ${r.errorMessage}`);
        exitCode = EXIT.FAILED;
      } else if (!o.json) io.out(`rotation ${r.id} succeeded`);
    });

  secrets
    .command('heartbeat <id>')
    .description("check the stored key now; --wait fails (exit 1) with the error code unless AWS accepts the key")
    .option('--wait', 'wait for the check to finish')
    .option('--timeout <seconds>', 'with --wait: stop waiting after this long', positiveInt('--timeout'), 300)
    .option('--json', 'JSON for scripts (the final heartbeat with --wait)')
    .action(async (raw: string, o: { wait?: boolean; timeout: number; json?: boolean }) => {
      const client = api();
      const started = await client.post<Heartbeat>(`/v1/secrets/${id(raw)}/heartbeats`);
      if (!o.wait) {
        if (o.json) return json(started.body);
        io.out(`heartbeat ${started.body.id} requested (${started.body.status})`);
        return;
      }
      if (!o.json) io.out(`heartbeat ${started.body.id}`);
      const h = await follow(
        async () => (await client.get<Heartbeat>(`/v1/heartbeats/${started.body.id}`)).body,
        (v) => v.status,
        (v) => v.status === 'done',
        (v) => o.json || io.out(`${time(new Date().toISOString())}  ${v.status}`),
        o.timeout,
        `heartbeat ${started.body.id}`,
      );
      if (o.json) json(h);
      else io.out(heartbeatFields(h));
      if (h.outcome !== 'success') {
        io.err(`keyturn: heartbeat ${h.id} ${h.outcome}: ${h.errorCode}: ${h.errorMessage}`);
        exitCode = EXIT.FAILED;
      }
    });

  program
    .command('rotations')
    .description('rotations')
    .command('get <id>')
    .description('a rotation: status, step, mode, error code and message, warnings')
    .option('--json', 'JSON for scripts')
    .action(async (raw: string, o: { json?: boolean }) => {
      const { body } = await api().get<Rotation>(`/v1/rotations/${id(raw)}`);
      if (o.json) return json(body);
      io.out(rotationFields(body));
    });

  discoveriesCommands(program.command('discoveries'), { api, out: io.out, err: io.err, json, id, positiveInt, followRotation, follow, time, fail: () => void (exitCode = EXIT.FAILED) });

  program
    .command('queues')
    .description('job counts of the rotation, heartbeat and discovery queues')
    .option('--json', 'JSON for scripts')
    .action(async (o: { json?: boolean }) => {
      const { body } = await api().get<{ queues: Record<string, unknown>[] }>('/v1/queues');
      if (o.json) return json(body.queues);
      io.out(
        table(
          ['name', 'waiting', 'active', 'delayed', 'failed', 'completed'].map((k) => ({ header: k, value: (q: Record<string, unknown>) => q[k] })),
          body.queues,
        ),
      );
    });

  return { program, exitCode: () => exitCode };
}

/** Runs an operator command; resolves to the process's exit code. API errors are shown as code and message, never a stack. */
export async function runOperator(argv: string[], io: Io = processIo): Promise<number> {
  const { program, exitCode } = buildProgram(io);
  try {
    await program.parseAsync(argv, { from: 'user' });
    return exitCode();
  } catch (e) {
    if (e instanceof CommanderError) return e.exitCode === 0 ? EXIT.OK : EXIT.USAGE;
    if (e instanceof ApiError) {
      io.err(`keyturn: ${e.code}: ${e.message}`);
      return EXIT.FAILED;
    }
    if (e instanceof UsageError) {
      io.err(`keyturn: ${e.message}`);
      return e.exitCode;
    }
    io.err(`keyturn: ${(e as Error)?.message ?? String(e)}`);
    return EXIT.FAILED;
  }
}
