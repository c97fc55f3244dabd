import 'reflect-metadata';
import { parseArgs } from 'node:util';
import { DataSource } from 'typeorm';
import { StartupError, loadConfigOrExit } from '@keyturn/config';
import { EnvelopeCipher, generateMasterKey } from '@keyturn/crypto';
import { ApiKeyEntity, dataSourceOptions, prepareDatabase } from '@keyturn/store';
import { ApiKeysService, ROLES, generateToken } from '@keyturn/auth';
import { resolveKeyring, rewrapAll } from '@keyturn/vault';
import type { Role } from '@keyturn/contracts';
import { OPERATOR_COMMANDS, runOperator } from './operator/commands.js';

const USAGE = `usage: npm run cli -- <command>

  migrate                                   apply pending database migrations
  api-keys create --role <role> --name <n> [--folders /a,/b]
                                            create an API key and print its token (shown once)
  api-keys token                            print a fresh token, e.g. for KEYTURN_BOOTSTRAP_ADMIN_TOKEN
  master-key generate                       print a fresh key-encryption key for KEYTURN_MASTER_KEY
  rewrap                                    re-wrap every data key under the active KEYTURN_MASTER_KEY
                                            (keep the old key in KEYTURN_PREVIOUS_MASTER_KEYS until done)
roles: ${ROLES.join(', ')}

operator commands (a running API: KEYTURN_URL and KEYTURN_TOKEN; --json for scripts; --help on each):
  secrets list [--type key|password] [--folder /f] [--heartbeat-status s] [--limit n]
  secrets get <id>                          metadata (never a secret field)
  secrets create --type key|password --name <n> --username <u> --account-id <id> [--folder /f]
                 [--access-key-id AKIA…]    the secret access key or password is read from standard input
  secrets value <id>                        print the secret fields (audited)
  secrets rotate <id> [--wait]              change it now; --wait shows the steps, exit 1 if it fails
  secrets heartbeat <id> [--wait]           check the stored key now; --wait exits 1 unless AWS accepts it
  rotations get <id>                        a rotation's status, step, error and warnings
  discoveries run --executor <id> [--path-prefix /eng/] [--wait]
                                            scan the account; --wait shows users scanned of total, exit 1 if it fails
  discoveries list | show <run>             the runs; one run's progress, counts, error and warnings
  discoveries findings <run> [--managed true|false] [--older-than-days n] [--unused-for-days n]
                 [--has-console-password true|false] [--limit n] [--all]   the keys found (ids masked)
  discoveries adopt <run> <finding> --name <n> --privileged-secret-id <id> [--folder /f]
                 [--delete-finding-id <id>] [--settings json] [--wait]   take over a found key
  queues                                    job counts of the rotation, heartbeat and discovery queues`;

const out = (s: string): void => void process.stdout.write(s + "\n");
const fail = (s: string, code = 2): never => {
  process.stderr.write(`keyturn: ${s}\n`);
  process.exit(code);
};

async function withDataSource<T>(fn: (ds: DataSource) => Promise<T>): Promise<T> {
  const config = loadConfigOrExit();
  await prepareDatabase({ url: config.database.url, createDatabase: config.database.createDatabase, migrationsRun: true, log: (m) => process.stderr.write(m + '\n') });
  const ds = new DataSource(dataSourceOptions(config.database.url));
  await ds.initialize();
  try {
    return await fn(ds);
  } finally {
    await ds.destroy();
  }
}

async function main(argv: string[]): Promise<void> {
  const [cmd, sub] = argv;
  // Operator commands talk to the API (commander parses them); the admin commands below work on the database.
  if (OPERATOR_COMMANDS.includes(cmd)) process.exit(await runOperator(argv));
  const { values } = parseArgs({
    args: argv.slice(cmd === 'api-keys' || cmd === 'master-key' ? 2 : 1),
    options: { role: { type: 'string' }, name: { type: 'string' }, folders: { type: 'string' }, help: { type: 'boolean' } },
    strict: true,
  });
  if (values.help || !cmd) return out(USAGE);

  if (cmd === 'migrate') {
    const config = loadConfigOrExit();
    await prepareDatabase({ url: config.database.url, createDatabase: config.database.createDatabase, migrationsRun: true, log: out });
    return out('migrations are up to date');
  }
  if (cmd === 'api-keys' && sub === 'token') return out(generateToken());
  if (cmd === 'master-key' && sub === 'generate') return out(generateMasterKey());
  if (cmd === 'api-keys' && sub === 'create') {
    const role = values.role as Role | undefined;
    if (!role || !ROLES.includes(role)) fail(`--role must be one of ${ROLES.join(', ')}`);
    if (!values.name) fail('--name is required');
    const folderScopes = values.folders ? values.folders.split(',').map((s) => s.trim()).filter(Boolean) : [];
    return withDataSource(async (ds) => {
      const svc = new ApiKeysService(ds, ds.getRepository(ApiKeyEntity));
      const { apiKey, token } = await svc.createAsSystem({ name: values.name!, role: role!, folderScopes }, 'cli');
      out(`created API key ${apiKey.id} (${apiKey.role}${folderScopes.length ? `, folders ${folderScopes.join(', ')}` : ''})`);
      out(`token (shown once): ${token}`);
    });
  }
  if (cmd === 'rewrap') {
    const config = loadConfigOrExit();
    const keyring = resolveKeyring(config, (m) => process.stderr.write(`warning: ${m}\n`));
    return withDataSource(async (ds) => {
      const r = await rewrapAll(ds, new EnvelopeCipher(keyring), keyring.activeId, 200, (n) => process.stderr.write(`re-wrapped ${n}\n`));
      out(`re-wrapped ${r.rewrapped} data key(s) under ${keyring.activeId}; ${r.remaining} remain under other keys`);
    });
  }
  fail(`unknown command "${argv.join(' ')}"\n\n${USAGE}`);
}

// Postgres unreachable or refusing: the same line and exit code as the apps give.
main(process.argv.slice(2)).catch((e: Error) => fail(e.message, e instanceof StartupError ? e.exitCode : 2));
