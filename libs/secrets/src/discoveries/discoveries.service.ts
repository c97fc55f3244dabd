import { Injectable } from '@nestjs/common';
import { ErrorCode, JobName, KeyturnError, SecretType, inFolderScope, type Actor } from '@keyturn/contracts';
import {
  DiscoveriesRepository,
  SecretsApiRepository,
  type DiscoveryCounts,
  type DiscoveryFindingRow,
  type DiscoveryRunRow,
  type DiscoveryTrigger,
  type DiscoveryWarning,
} from '@keyturn/store';
import { JobProducer } from '@keyturn/queue';
import { loadVisibleSecret } from '../secrets/folder-scope.js';
import { decodeCursor, encodeCursor } from '../secrets/cursor.js';

export const discoveryJobId = (discoveryId: string) => `discovery-${discoveryId}`;

/** An IAM path (AWS: "/" or "/" + U+0021–U+007E + "/", at most 512 characters). */
const IAM_PATH = /^\/(?:[\x21-\x7e]*\/)?$/;

export function isIamPath(p: string): boolean {
  return p.length >= 1 && p.length <= 512 && IAM_PATH.test(p);
}

const DAY_MS = 86_400_000;

export interface DiscoveryView {
  id: string;
  status: string;
  phase: string;
  executorSecretId: string | null;
  pathPrefix: string;
  trigger: string;
  requestedBy: string;
  usersScanned: number;
  usersTotal: number | null;
  keysFound: number;
  managed: number;
  unmanaged: number;
  warnings: DiscoveryWarning[];
  errorCode: string | null;
  errorMessage: string | null;
  createdAt: string;
  startedAt: string | null;
  finishedAt: string | null;
}

export interface FindingView {
  id: string;
  discoveryId: string;
  userName: string;
  userId: string;
  maskedAccessKeyId: string;
  status: string;
  createdAt: string | null;
  ageDays: number | null;
  lastUsed: { date: string; service: string | null; region: string | null } | null;
  hasConsolePassword: boolean | null;
  managed: boolean;
  managedBy: string | null;
}

export interface FindingsQuery {
  limit: number;
  cursor?: string;
  managed?: boolean;
  olderThanDays?: number;
  unusedForDays?: number;
  hasConsolePassword?: boolean;
}

function toView(r: DiscoveryRunRow, c: DiscoveryCounts): DiscoveryView {
  return {
    id: r.id,
    status: r.status,
    phase: r.phase,
    executorSecretId: r.executorSecretId,
    pathPrefix: r.pathPrefix,
    trigger: r.trigger,
    requestedBy: r.requestedBy,
    usersScanned: r.usersScanned,
    usersTotal: r.usersTotal,
    keysFound: c.keys,
    managed: c.managed,
    unmanaged: c.unmanaged,
    warnings: r.warnings.map((w) => ({ at: w.at, code: w.code, ...(w.action ? { action: w.action } : {}), message: w.message })),
    errorCode: r.errorCode,
    errorMessage: r.errorMessage,
    createdAt: r.createdAt.toISOString(),
    startedAt: r.startedAt?.toISOString() ?? null,
    finishedAt: r.finishedAt?.toISOString() ?? null,
  };
}

/** A finding as the caller may see it: `managedBy` only when the managing secret lies in the caller's folders. */
export function toFindingView(f: DiscoveryFindingRow & { managedFolder?: string | null }, actor: Actor, now: number): FindingView {
  const managed = f.managedSecretId !== null;
  const visible = managed && f.managedFolder != null && inFolderScope(actor, f.managedFolder);
  return {
    id: f.id,
    discoveryId: f.runId,
    userName: f.userName,
    userId: f.userId,
    maskedAccessKeyId: f.accessKeyIdMasked,
    status: f.keyStatus,
    createdAt: f.keyCreatedAt?.toISOString() ?? null,
    ageDays: f.keyCreatedAt ? Math.max(0, Math.floor((now - f.keyCreatedAt.getTime()) / DAY_MS)) : null,
    lastUsed: f.lastUsedAt ? { date: f.lastUsedAt.toISOString(), service: f.lastUsedService, region: f.lastUsedRegion } : null,
    hasConsolePassword: f.hasConsolePassword,
    managed,
    managedBy: visible ? f.managedSecretId : null,
  };
}

/**
 * Discovery runs on the API side (issue 15): requesting one (a row first, a
 * job second: the reconciler enqueues a run whose enqueue failed), reading
 * runs and their findings. A run is visible to a caller who can see its
 * executor secret; with the executor deleted, to unscoped callers only.
 */
@Injectable()
export class DiscoveriesService {
  constructor(
    private readonly runs: DiscoveriesRepository,
    private readonly secrets: SecretsApiRepository,
    private readonly jobs: JobProducer,
  ) {}

  async request(actor: Actor, body: { executorSecretId: string; pathPrefix?: string }, trigger: DiscoveryTrigger = 'api'): Promise<DiscoveryView> {
    const pathPrefix = body.pathPrefix ?? '/';
    if (!isIamPath(pathPrefix)) throw new KeyturnError(ErrorCode.INVALID_IAM_PATH, { field: 'pathPrefix' });
    const executor = await loadVisibleSecret(this.secrets, actor, body.executorSecretId);
    if (executor.type !== SecretType.AwsIamKey) {
      throw new KeyturnError(ErrorCode.DISCOVERY_EXECUTOR_WRONG_TYPE, { executorSecretId: executor.id, secretType: executor.type });
    }
    if ((await this.secrets.currentVersionNumber(executor.id)) === null) throw new KeyturnError(ErrorCode.SECRET_HAS_NO_VALUE, { secretId: executor.id });
    const run = await this.runs.createRun({ executorSecretId: executor.id, pathPrefix, trigger, requestedBy: actor.id });
    await this.jobs.tryAdd(JobName.RunDiscovery, { discoveryId: run.id, accountId: executor.accountId }, { jobId: discoveryJobId(run.id) });
    return toView(run, { keys: 0, managed: 0, unmanaged: 0 });
  }

  /** A run the actor may see; anything else is DISCOVERY_NOT_FOUND, so existence does not leak. */
  async loadVisibleRun(actor: Actor, id: string): Promise<DiscoveryRunRow> {
    const found = await this.runs.getRunWithFolder(id);
    const unscoped = !actor.folderScopes.length || actor.folderScopes.includes('/');
    if (!found || (found.executorFolder === null ? !unscoped : !inFolderScope(actor, found.executorFolder))) {
      throw new KeyturnError(ErrorCode.DISCOVERY_NOT_FOUND, { discoveryId: id });
    }
    return found.run;
  }

  async get(actor: Actor, id: string): Promise<DiscoveryView> {
    const run = await this.loadVisibleRun(actor, id);
    return toView(run, await this.runs.counts(run.id));
  }

  async list(actor: Actor, q: { limit: number; cursor?: string }): Promise<{ items: DiscoveryView[]; nextCursor: string | null }> {
    const rows = await this.runs.listRuns({ limit: q.limit, afterId: q.cursor ? decodeCursor(q.cursor) : undefined, scopes: actor.folderScopes });
    const page = rows.slice(0, q.limit);
    const items = await Promise.all(page.map(async (r) => toView(r, await this.runs.counts(r.id))));
    return { items, nextCursor: rows.length > q.limit ? encodeCursor(page[page.length - 1].id) : null };
  }

  async findings(actor: Actor, id: string, q: FindingsQuery): Promise<{ items: FindingView[]; nextCursor: string | null }> {
    const afterId = q.cursor ? decodeCursor(q.cursor) : undefined;
    const run = await this.loadVisibleRun(actor, id);
    const now = new Date();
    const rows = await this.runs.listFindings(run.id, {
      limit: q.limit,
      afterId,
      managed: q.managed,
      olderThanDays: q.olderThanDays,
      unusedForDays: q.unusedForDays,
      hasConsolePassword: q.hasConsolePassword,
      now,
    });
    const page = rows.slice(0, q.limit);
    return {
      items: page.map((f) => toFindingView(f, actor, now.getTime())),
      nextCursor: rows.length > q.limit ? encodeCursor(page[page.length - 1].id) : null,
    };
  }

  /** One finding of the run (a finding of another run is DISCOVERY_FINDING_NOT_FOUND). */
  async finding(actor: Actor, id: string, findingId: string): Promise<FindingView> {
    const run = await this.loadVisibleRun(actor, id);
    const f = await this.runs.findFindingWithFolder(run.id, findingId);
    if (!f) throw new KeyturnError(ErrorCode.DISCOVERY_FINDING_NOT_FOUND, { discoveryId: run.id, findingId });
    return toFindingView(f, actor, Date.now());
  }
}
