import { Option, type Command } from 'commander';
import type { DiscoveryView, FindingView } from '@keyturn/secrets';
import { UsageError, type KeyturnApi } from './api-client.js';
import { adoptCommand, type AdoptContext } from './discoveries-adopt.command.js';
import { fields, table } from './table.js';

/** What the discoveries commands need from the operator program (passed in, so this file stands on its own). */
export interface DiscoveriesContext extends AdoptContext {
  /** Polls `load` until `done`, calling `onChange` whenever `key` of the answer changes; a UsageError (exit 1) after `timeoutSeconds`. */
  follow<T>(load: () => Promise<T>, key: (v: T) => string, done: (v: T) => boolean, onChange: (v: T) => void, timeoutSeconds: number, what: string): Promise<T>;
  /** An ISO date for people ("-" for none). */
  time(iso: string | null | undefined): string;
}

/** The API's answers, as libs/secrets shapes them (type-only: the CLI talks to the API over HTTP). */
type Discovery = DiscoveryView;
type Finding = FindingView;

interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

const ended = (d: Discovery) => d.status === 'succeeded' || d.status === 'failed';
const progress = (d: Discovery) => `users ${d.usersScanned} of ${d.usersTotal ?? '?'}`;
/** 0 included: "keys unused for 0 days" is every key. */
const days = (name: string) => (v: string) => {
  if (!/^\d+$/.test(v) || Number(v) > 36500) throw new UsageError(`${name} must be a whole number from 0 to 36500`);
  return Number(v);
};
const yesNo = (v: boolean | null) => (v === null ? 'unknown' : v ? 'yes' : 'no');

function discoveryFields(d: Discovery, time: DiscoveriesContext['time']): string {
  return fields([
    ['discovery', d.id],
    ['status', d.status],
    ['phase', d.phase],
    ['path prefix', d.pathPrefix],
    ['executor', d.executorSecretId],
    ['trigger', d.trigger],
    ['requested by', d.requestedBy],
    ['users', `${d.usersScanned} scanned of ${d.usersTotal ?? '?'}`],
    ['keys', `${d.keysFound} (${d.managed} managed, ${d.unmanaged} unmanaged)`],
    ['created', time(d.createdAt)],
    ['started', time(d.startedAt)],
    ['finished', time(d.finishedAt)],
    ...(d.errorCode ? ([['error', `${d.errorCode}: ${d.errorMessage ?? ''}`]] as [string, unknown][]) : []),
    ...d.warnings.map((w): [string, unknown] => ['warning', `${w.code}: ${w.message}`]),
  ]);
}

/**
 * `discoveries run|list|show|findings|adopt` (issue 15 items 1, 2, 3, 5), added to `discoveries`, a command
 * of the operator program (so they inherit its exit override and output). `run --wait` exits 1 with the
 * run's error code when the run fails.
 */
export function discoveriesCommands(discoveries: Command, ctx: DiscoveriesContext): Command {
  const { api, out, err, json, id, positiveInt, time } = ctx;
  discoveries.description('discovery runs of an AWS account and their findings: run, list, show, findings, adopt');
  const load = async (client: KeyturnApi, runId: string) => (await client.get<Discovery>(`/v1/discoveries/${runId}`)).body;

  discoveries
    .command('run')
    .description('scan the account the executor key belongs to; --wait follows its progress and fails (exit 1) with the error code if the run fails')
    .requiredOption('--executor <secretId>', 'an aws-iam-key secret allowed to list the account (see GET /v1/discoveries/required-permissions)')
    .option('--path-prefix <path>', 'only users under this IAM path, e.g. /eng/')
    .option('--wait', 'wait for the run to finish, showing users scanned of total')
    .option('--timeout <seconds>', 'with --wait: stop waiting after this long', positiveInt('--timeout'), 900)
    .option('--json', 'JSON for scripts (the final run with --wait)')
    .action(async (o: { executor: string; pathPrefix?: string; wait?: boolean; timeout: number; json?: boolean }) => {
      const client = api();
      const body = { executorSecretId: id(o.executor), ...(o.pathPrefix !== undefined ? { pathPrefix: o.pathPrefix } : {}) };
      const { body: started } = await client.post<Discovery>('/v1/discoveries', body);
      if (!o.wait) {
        if (o.json) return json(started);
        out(`discovery ${started.id} requested (${started.status})`);
        return;
      }
      if (!o.json) out(`discovery ${started.id}`);
      const d = await ctx.follow(
        () => load(client, started.id),
        (v) => `${v.status}/${v.phase}/${v.usersScanned}/${v.usersTotal}`,
        ended,
        (v) => o.json || out(`${time(new Date().toISOString())}  ${v.status.padEnd(9)} ${v.phase.padEnd(10)} ${progress(v)}`),
        o.timeout,
        `discovery ${started.id}`,
      );
      if (o.json) json(d);
      else for (const w of d.warnings) out(`warning ${w.code}: ${w.message}`);
      if (d.status === 'failed') {
        err(`keyturn: discovery ${d.id} failed: ${d.errorCode}: ${d.errorMessage}`);
        ctx.fail();
      } else if (!o.json) out(`discovery ${d.id} succeeded: ${d.usersScanned} users, ${d.keysFound} keys (${d.managed} managed, ${d.unmanaged} unmanaged)`);
    });

  discoveries
    .command('list')
    .description('discovery runs, newest first')
    .option('--limit <n>', 'at most this many', positiveInt('--limit'), 50)
    .option('--json', 'JSON for scripts')
    .action(async (o: { limit: number; json?: boolean }) => {
      const { body } = await api().get<Page<Discovery>>(`/v1/discoveries?limit=${Math.min(o.limit, 500)}`);
      if (o.json) return json(body.items);
      out(
        table(
          [
            { header: 'id', value: (d: Discovery) => d.id },
            { header: 'status', value: (d) => d.status },
            { header: 'path prefix', value: (d) => d.pathPrefix },
            { header: 'users', value: (d) => `${d.usersScanned}/${d.usersTotal ?? '?'}` },
            { header: 'keys', value: (d) => d.keysFound },
            { header: 'unmanaged', value: (d) => d.unmanaged },
            { header: 'created', value: (d) => time(d.createdAt) },
            { header: 'error', value: (d) => d.errorCode },
          ],
          body.items,
        ),
      );
    });

  discoveries
    .command('show <id>')
    .description('a discovery run: status, progress, counts, error code and message, warnings')
    .option('--json', 'JSON for scripts')
    .action(async (raw: string, o: { json?: boolean }) => {
      const d = await load(api(), id(raw));
      if (o.json) return json(d);
      out(discoveryFields(d, time));
    });

  discoveries
    .command('findings <id>')
    .description('the access keys a run found (never a key: its id masked), in pages; --all follows every page')
    .addOption(new Option('--managed <bool>', 'true: keys a Keyturn secret holds; false: the others').choices(['true', 'false']))
    .option('--older-than-days <n>', 'keys created at least this many days ago', days('--older-than-days'))
    .option('--unused-for-days <n>', 'keys not used for this many days (never used counts)', days('--unused-for-days'))
    .addOption(new Option('--has-console-password <bool>', "whether the key's user has a console password").choices(['true', 'false']))
    .option('--limit <n>', 'findings per page (50 by default, at most 500)', positiveInt('--limit'))
    .option('--all', 'every page, not just the first')
    .option('--json', 'JSON for scripts')
    .action(
      async (
        raw: string,
        o: { managed?: string; olderThanDays?: number; unusedForDays?: number; hasConsolePassword?: string; limit?: number; all?: boolean; json?: boolean },
      ) => {
        if (o.limit !== undefined && o.limit > 500) throw new UsageError('--limit must be at most 500');
        const client = api();
        const runId = id(raw);
        const items: Finding[] = [];
        let cursor: string | null = null;
        let more: string | null;
        do {
          const q = new URLSearchParams();
          if (o.limit !== undefined) q.set('limit', String(o.limit));
          if (o.managed) q.set('managed', o.managed);
          if (o.olderThanDays !== undefined) q.set('olderThanDays', String(o.olderThanDays));
          if (o.unusedForDays !== undefined) q.set('unusedForDays', String(o.unusedForDays));
          if (o.hasConsolePassword) q.set('hasConsolePassword', o.hasConsolePassword);
          if (cursor) q.set('cursor', cursor);
          const { body: page }: { body: Page<Finding> } = await client.get<Page<Finding>>(`/v1/discoveries/${runId}/findings?${q}`);
          items.push(...page.items);
          more = page.nextCursor;
          cursor = o.all ? more : null;
        } while (cursor);
        if (o.json) return json(o.all ? items : { items, nextCursor: more });
        out(
          table(
            [
              { header: 'finding', value: (f: Finding) => f.id },
              { header: 'user', value: (f) => f.userName },
              { header: 'key', value: (f) => f.maskedAccessKeyId },
              { header: 'status', value: (f) => f.status },
              { header: 'age (days)', value: (f) => f.ageDays },
              { header: 'last used', value: (f) => (f.lastUsed ? `${time(f.lastUsed.date)} ${f.lastUsed.service ?? '-'} ${f.lastUsed.region ?? '-'}` : 'never') },
              { header: 'console password', value: (f) => yesNo(f.hasConsolePassword) },
              { header: 'managed by', value: (f) => (f.managed ? (f.managedBy ?? '(a secret outside your folders)') : '-') },
            ],
            items,
          ),
        );
        if (more && !o.all) out(`more: --all for every page (or --json for the cursor)`);
      },
    );

  // Built on its own, so it copies the usage-error handling (exit 2) a `.command()` child inherits.
  discoveries.addCommand(adoptCommand(ctx).copyInheritedSettings(discoveries));
  return discoveries;
}
