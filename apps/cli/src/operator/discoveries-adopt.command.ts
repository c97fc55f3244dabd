import { Command } from 'commander';
import type { RotationView } from '@keyturn/secrets';
import { UsageError, type KeyturnApi } from './api-client.js';

/** What the adopt command needs from the operator program (passed in, so this file stands on its own). */
export interface AdoptContext {
  api(): KeyturnApi;
  out(s: string): void;
  err(s: string): void;
  json(v: unknown): void;
  id(v: string): string;
  positiveInt(name: string): (v: string) => number;
  /** Follows a rotation until it ends, printing its steps; resolves to the final rotation. */
  followRotation(client: KeyturnApi, rotationId: string, timeoutSeconds: number, quiet: boolean): Promise<RotationView>;
  fail(): void;
}

interface AdoptionAnswer {
  secretId: string;
  rotationId: string;
  rotation: RotationView;
}

/**
 * `discoveries adopt <discoveryId> <findingId>`: POST /v1/discoveries/:id/findings/:findingId/adopt
 * (issue 15 item 3). Its own file, so the `discoveries run|findings` commands can live beside it.
 */
export function adoptCommand(ctx: AdoptContext): Command {
  return new Command('adopt')
    .argument('<discoveryId>')
    .argument('<findingId>')
    .description("take over a discovered key whose secret nobody knows: a new key secret, and a privileged rotation that replaces the key (--wait follows it)")
    .requiredOption('--name <name>', 'the new secret’s name')
    .requiredOption('--privileged-secret-id <id>', 'the aws-iam-key secret that creates the new key')
    .option('--folder <folder>', 'the new secret’s folder', '/')
    .option('--delete-finding-id <id>', 'when the user has two keys: the other key (a finding of the same run) to delete first')
    .option('--settings <json>', 'the new secret’s own settings as JSON, e.g. {"previousKeyGraceSeconds":3600}')
    .option('--wait', 'wait for the rotation to finish, showing its steps')
    .option('--timeout <seconds>', 'with --wait: stop waiting after this long', ctx.positiveInt('--timeout'), 900)
    .option('--json', 'JSON for scripts (the final rotation with --wait)')
    .action(
      async (
        discoveryId: string,
        findingId: string,
        o: { name: string; privilegedSecretId: string; folder: string; deleteFindingId?: string; settings?: string; wait?: boolean; timeout: number; json?: boolean },
      ) => {
        let settings: unknown;
        if (o.settings !== undefined) {
          try {
            settings = JSON.parse(o.settings);
          } catch {
            throw new UsageError('--settings must be a JSON object, e.g. {"previousKeyGraceSeconds":3600}');
          }
        }
        const body = {
          name: o.name,
          folder: o.folder,
          privilegedSecretId: ctx.id(o.privilegedSecretId),
          ...(o.deleteFindingId ? { deleteFindingId: ctx.id(o.deleteFindingId) } : {}),
          ...(settings !== undefined ? { settings } : {}),
        };
        const client = ctx.api();
        const { body: a } = await client.post<AdoptionAnswer>(`/v1/discoveries/${ctx.id(discoveryId)}/findings/${ctx.id(findingId)}/adopt`, body);
        if (!o.wait) {
          if (o.json) return ctx.json(a);
          ctx.out(`secret ${a.secretId} adopted the key; rotation ${a.rotationId} replaces it (${a.rotation.status})`);
          return;
        }
        if (!o.json) ctx.out(`secret ${a.secretId}, rotation ${a.rotationId}`);
        const r = await ctx.followRotation(client, a.rotationId, o.timeout, o.json === true);
        if (o.json) ctx.json({ ...a, rotation: r });
        if (r.status === 'failed') {
          ctx.err(`keyturn: rotation ${r.id} failed: ${r.errorCode}: ${r.errorMessage}`);
          ctx.fail();
        } else if (!o.json) ctx.out(`rotation ${r.id} succeeded: the new key is stored, the adopted key is retired by the secret's settings`);
      },
    );
}
