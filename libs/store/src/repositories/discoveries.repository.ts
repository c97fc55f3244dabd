import type { EntityManager } from 'typeorm';
import { queryReturning } from '../returning.js';
import { uuidv7 } from '../uuid.js';
import { EventsRepository } from './events.repository.js';
import { AuditEventsRepository } from './audit-events.repository.js';

export type DiscoveryStatus = 'queued' | 'running' | 'succeeded' | 'failed';
/** list-users: paging ListUsers (next_marker); scan-users: the listed users not yet scanned; done. */
export type DiscoveryPhase = 'list-users' | 'scan-users' | 'done';
export type DiscoveryTrigger = 'api' | 'schedule';

export interface DiscoveryWarning {
  at: string;
  code: string;
  /** The IAM action that was denied, e.g. "iam:GetLoginProfile". */
  action?: string;
  message: string;
}

export interface DiscoveryRunRow {
  id: string;
  executorSecretId: string | null;
  pathPrefix: string;
  trigger: DiscoveryTrigger;
  requestedBy: string;
  status: DiscoveryStatus;
  phase: DiscoveryPhase;
  nextMarker: string | null;
  usersTotal: number | null;
  usersScanned: number;
  /** Claims so far (each worker that took the run, including resumes after a crash). */
  attempt: number;
  warnings: DiscoveryWarning[];
  errorCode: string | null;
  errorMessage: string | null;
  leaseOwner: string | null;
  leaseUntil: Date | null;
  createdAt: Date;
  startedAt: Date | null;
  finishedAt: Date | null;
}

export interface DiscoveryUserRow {
  runId: string;
  userName: string;
  userId: string;
  userArn: string;
  userPath: string;
  userCreatedAt: Date | null;
  hasConsolePassword: boolean | null;
  scannedAt: Date | null;
}

export interface DiscoveryFindingRow {
  id: string;
  runId: string;
  userName: string;
  userId: string;
  userArn: string;
  accessKeyIdMasked: string;
  /** Blind index of the access key id under the KEK active at scan time. */
  keyIdHmac: string;
  keyStatus: 'Active' | 'Inactive';
  keyCreatedAt: Date | null;
  lastUsedAt: Date | null;
  lastUsedService: string | null;
  lastUsedRegion: string | null;
  hasConsolePassword: boolean | null;
  managedSecretId: string | null;
}

/** A finding with the folder of the secret that manages it (null: unmanaged, or that secret is gone). */
export type ManagedFinding = DiscoveryFindingRow & { managedFolder: string | null };

export type NewDiscoveryUser = Omit<DiscoveryUserRow, 'runId' | 'hasConsolePassword' | 'scannedAt'>;
export type NewDiscoveryFinding = Omit<DiscoveryFindingRow, 'id' | 'runId'>;

export interface DiscoveryCounts {
  keys: number;
  managed: number;
  unmanaged: number;
}

/** What a run's outcome is announced with, bound to the outcome's transaction. */
export interface DiscoveryAnnouncer {
  events: EventsRepository;
  audit: AuditEventsRepository;
}

export interface FindingFilter {
  limit: number;
  /** Only ids after this one (keyset pagination over the UUIDv7 primary key). */
  afterId?: string;
  managed?: boolean;
  /** Keys created at least this many days before `now`. */
  olderThanDays?: number;
  /** Keys not used for this many days before `now` (never used counts as unused). */
  unusedForDays?: number;
  hasConsolePassword?: boolean;
  now: Date;
}

export interface RunListFilter {
  limit: number;
  afterId?: string;
  /** The caller's folder scopes (empty: every folder): a run is visible when its executor secret is. */
  scopes: readonly string[];
}

const RUN_COLUMNS = `id, executor_secret_id, path_prefix, trigger, requested_by, status, phase, next_marker, users_total,
  users_scanned, attempt, warnings, error_code, error_message, lease_owner, lease_until, created_at, started_at, finished_at`;

type Raw = Record<string, unknown>;
const date = (v: unknown): Date | null => (v == null ? null : v instanceof Date ? v : new Date(String(v)));

function runOf(r: Raw): DiscoveryRunRow {
  return {
    id: r.id as string,
    executorSecretId: (r.executor_secret_id as string | null) ?? null,
    pathPrefix: r.path_prefix as string,
    trigger: r.trigger as DiscoveryTrigger,
    requestedBy: r.requested_by as string,
    status: r.status as DiscoveryStatus,
    phase: r.phase as DiscoveryPhase,
    nextMarker: (r.next_marker as string | null) ?? null,
    usersTotal: r.users_total == null ? null : Number(r.users_total),
    usersScanned: Number(r.users_scanned),
    attempt: Number(r.attempt ?? 0),
    warnings: (r.warnings as DiscoveryWarning[]) ?? [],
    errorCode: (r.error_code as string | null) ?? null,
    errorMessage: (r.error_message as string | null) ?? null,
    leaseOwner: (r.lease_owner as string | null) ?? null,
    leaseUntil: date(r.lease_until),
    createdAt: date(r.created_at)!,
    startedAt: date(r.started_at),
    finishedAt: date(r.finished_at),
  };
}

function userOf(r: Raw): DiscoveryUserRow {
  return {
    runId: r.run_id as string,
    userName: r.user_name as string,
    userId: r.user_id as string,
    userArn: r.user_arn as string,
    userPath: r.user_path as string,
    userCreatedAt: date(r.user_created_at),
    hasConsolePassword: (r.has_console_password as boolean | null) ?? null,
    scannedAt: date(r.scanned_at),
  };
}

function findingOf(r: Raw): DiscoveryFindingRow {
  return {
    id: r.id as string,
    runId: r.run_id as string,
    userName: r.user_name as string,
    userId: r.user_id as string,
    userArn: r.user_arn as string,
    accessKeyIdMasked: r.access_key_id_masked as string,
    keyIdHmac: r.key_id_hmac as string,
    keyStatus: r.key_status as 'Active' | 'Inactive',
    keyCreatedAt: date(r.key_created_at),
    lastUsedAt: date(r.last_used_at),
    lastUsedService: (r.last_used_service as string | null) ?? null,
    lastUsedRegion: (r.last_used_region as string | null) ?? null,
    hasConsolePassword: (r.has_console_password as boolean | null) ?? null,
    managedSecretId: (r.managed_secret_id as string | null) ?? null,
  };
}

/** SQL for "folder `col` is one of `scopes` or under it"; '/' (or no scope) matches everything. */
function folderScopeSql(col: string, scopes: readonly string[], params: unknown[]): string {
  if (!scopes.length || scopes.some((s) => s === '/')) return 'true';
  const parts = scopes.map((s) => {
    const exact = s.replace(/\/+$/, '');
    params.push(exact, exact.replace(/[\\%_]/g, (c) => '\\' + c) + '/%');
    return `(${col} = $${params.length - 1} OR ${col} LIKE $${params.length})`;
  });
  return `(${parts.join(' OR ')})`;
}

/**
 * Discovery runs, the users each run listed and the access keys it found
 * (issue 15). The run row is a journal: the worker holds a lease on it, pages
 * ListUsers into discovery_users (phase list-users, next_marker), then scans
 * the users whose scanned_at is null (phase scan-users), so a run taken over
 * after a crash resumes where the last worker stopped. Writes of a leased run
 * check the lease owner, so a worker that lost its lease changes nothing.
 */
export class DiscoveriesRepository {
  constructor(private readonly m: EntityManager) {}

  private tx<T>(work: (r: DiscoveriesRepository) => Promise<T>): Promise<T> {
    return this.m.transaction((m) => work(new DiscoveriesRepository(m)));
  }

  // ------------------------------------------------------------ runs

  async createRun(r: { executorSecretId: string; pathPrefix: string; trigger: DiscoveryTrigger; requestedBy: string }): Promise<DiscoveryRunRow> {
    const rows = await queryReturning<Raw>(
      this.m,
      `INSERT INTO discovery_runs (id, executor_secret_id, path_prefix, trigger, requested_by, status)
       VALUES ($1, $2, $3, $4, $5, 'queued') RETURNING ${RUN_COLUMNS}`,
      [uuidv7(), r.executorSecretId, r.pathPrefix, r.trigger, r.requestedBy],
    );
    return runOf(rows[0]);
  }

  async getRun(id: string): Promise<DiscoveryRunRow | null> {
    const rows: Raw[] = await this.m.query(`SELECT ${RUN_COLUMNS} FROM discovery_runs WHERE id = $1`, [id]);
    return rows.length ? runOf(rows[0]) : null;
  }

  /** The run with its executor secret's folder (null when the executor is gone), for visibility checks. */
  async getRunWithFolder(id: string): Promise<{ run: DiscoveryRunRow; executorFolder: string | null } | null> {
    const rows: Raw[] = await this.m.query(
      `SELECT r.*, s.folder AS executor_folder FROM discovery_runs r LEFT JOIN secrets s ON s.id = r.executor_secret_id WHERE r.id = $1`,
      [id],
    );
    return rows.length ? { run: runOf(rows[0]), executorFolder: (rows[0].executor_folder as string | null) ?? null } : null;
  }

  /** One page in id order (newest ids last), and one row more than `limit` when there is a next page. */
  async listRuns(f: RunListFilter): Promise<DiscoveryRunRow[]> {
    const params: unknown[] = [f.limit + 1];
    const where = [folderScopeSql('s.folder', f.scopes, params)];
    if (f.scopes.length && !f.scopes.includes('/')) where.push('s.id IS NOT NULL');
    if (f.afterId) {
      params.push(f.afterId);
      where.push(`r.id > $${params.length}`);
    }
    const rows: Raw[] = await this.m.query(
      `SELECT r.* FROM discovery_runs r LEFT JOIN secrets s ON s.id = r.executor_secret_id
        WHERE ${where.join(' AND ')} ORDER BY r.id LIMIT $1`,
      params,
    );
    return rows.map(runOf);
  }

  /**
   * Takes the lease: a queued run, or a running one whose lease lapsed or is
   * already `owner`'s. Returns the run as claimed, or null (finished, or
   * another worker holds a live lease).
   */
  async claim(id: string, owner: string, leaseMs: number): Promise<DiscoveryRunRow | null> {
    const rows = await queryReturning<Raw>(
      this.m,
      `UPDATE discovery_runs
          SET status = 'running', lease_owner = $2, lease_until = now() + ($3 || ' milliseconds')::interval,
              attempt = attempt + 1, started_at = coalesce(started_at, now())
        WHERE id = $1
          AND (status = 'queued' OR (status = 'running' AND (lease_until IS NULL OR lease_until < now() OR lease_owner = $2)))
        RETURNING ${RUN_COLUMNS}`,
      [id, owner, String(leaseMs)],
    );
    return rows.length ? runOf(rows[0]) : null;
  }

  /** Extends `owner`'s lease; false when it is no longer `owner`'s (the run was taken over or finished). */
  async renewLease(id: string, owner: string, leaseMs: number): Promise<boolean> {
    const rows = await queryReturning<Raw>(
      this.m,
      `UPDATE discovery_runs SET lease_until = now() + ($3 || ' milliseconds')::interval
        WHERE id = $1 AND lease_owner = $2 AND status = 'running' RETURNING id`,
      [id, owner, String(leaseMs)],
    );
    return rows.length > 0;
  }

  /** Gives the lease up (the run stays running and resumable: a retry or the reconciler takes it). */
  async releaseLease(id: string, owner: string): Promise<void> {
    await this.m.query(`UPDATE discovery_runs SET lease_owner = NULL, lease_until = NULL WHERE id = $1 AND lease_owner = $2`, [id, owner]);
  }

  /**
   * One ListUsers page, in one transaction: its users (a page recorded twice
   * adds nothing) and the marker of the next page; the last page (no marker)
   * ends the listing: users_total and phase scan-users. False when `owner`
   * no longer holds the lease (nothing written).
   */
  recordUsersPage(runId: string, owner: string, users: NewDiscoveryUser[], nextMarker: string | null): Promise<boolean> {
    return this.tx(async (r) => {
      const held: Raw[] = await r.m.query(`SELECT id FROM discovery_runs WHERE id = $1 AND lease_owner = $2 AND phase = 'list-users' FOR UPDATE`, [runId, owner]);
      if (!held.length) return false;
      if (users.length) {
        await r.m.query(
          `INSERT INTO discovery_users (run_id, user_name, user_id, user_arn, user_path, user_created_at)
           SELECT $1, u.user_name, u.user_id, u.user_arn, u.user_path, u.user_created_at
             FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::timestamptz[])
                  AS u(user_name, user_id, user_arn, user_path, user_created_at)
           ON CONFLICT (run_id, user_name) DO NOTHING`,
          [runId, users.map((u) => u.userName), users.map((u) => u.userId), users.map((u) => u.userArn), users.map((u) => u.userPath), users.map((u) => u.userCreatedAt)],
        );
      }
      if (nextMarker !== null) {
        await r.m.query(`UPDATE discovery_runs SET next_marker = $2 WHERE id = $1`, [runId, nextMarker]);
      } else {
        await r.m.query(
          `UPDATE discovery_runs SET next_marker = NULL, phase = 'scan-users',
                  users_total = (SELECT count(*) FROM discovery_users WHERE run_id = $1)
            WHERE id = $1`,
          [runId],
        );
      }
      return true;
    });
  }

  /** Up to `limit` listed users not scanned yet, in name order. */
  async unscannedUsers(runId: string, limit: number): Promise<DiscoveryUserRow[]> {
    const rows: Raw[] = await this.m.query(
      `SELECT * FROM discovery_users WHERE run_id = $1 AND scanned_at IS NULL ORDER BY user_name LIMIT $2`,
      [runId, limit],
    );
    return rows.map(userOf);
  }

  /**
   * One scanned user, in one transaction: its keys as findings (a key recorded
   * twice adds nothing), the console-password answer, scanned_at, and one more
   * user scanned on the run (only the first time). False when `owner` no
   * longer holds the lease (nothing written).
   */
  recordUserScan(runId: string, owner: string, userName: string, hasConsolePassword: boolean | null, findings: NewDiscoveryFinding[]): Promise<boolean> {
    return this.tx(async (r) => {
      const held: Raw[] = await r.m.query(`SELECT id FROM discovery_runs WHERE id = $1 AND lease_owner = $2 FOR UPDATE`, [runId, owner]);
      if (!held.length) return false;
      for (const f of findings) {
        await r.m.query(
          `INSERT INTO discovery_findings (id, run_id, user_name, user_id, user_arn, access_key_id_masked, key_id_hmac, key_status,
                                           key_created_at, last_used_at, last_used_service, last_used_region, has_console_password, managed_secret_id)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
           ON CONFLICT (run_id, key_id_hmac) DO NOTHING`,
          [uuidv7(), runId, f.userName, f.userId, f.userArn, f.accessKeyIdMasked, f.keyIdHmac, f.keyStatus, f.keyCreatedAt, f.lastUsedAt,
            f.lastUsedService, f.lastUsedRegion, f.hasConsolePassword, f.managedSecretId],
        );
      }
      const marked = await queryReturning<Raw>(
        r.m,
        `UPDATE discovery_users SET scanned_at = now(), has_console_password = $3
          WHERE run_id = $1 AND user_name = $2 AND scanned_at IS NULL RETURNING user_name`,
        [runId, userName, hasConsolePassword],
      );
      if (marked.length) await r.m.query(`UPDATE discovery_runs SET users_scanned = users_scanned + 1 WHERE id = $1`, [runId]);
      return true;
    });
  }

  /** Adds a warning unless the run already has one with this code and action (a denied optional call warns once, not once per user). */
  async addWarning(runId: string, w: DiscoveryWarning): Promise<void> {
    await this.m.query(
      `UPDATE discovery_runs SET warnings = warnings || $2::jsonb WHERE id = $1 AND NOT warnings @> $3::jsonb`,
      [runId, JSON.stringify([w]), JSON.stringify([{ code: w.code, ...(w.action ? { action: w.action } : {}) }])],
    );
  }

  /**
   * The run's outcome (phase done on success, lease released), if `owner`
   * holds it; a failure keeps its code and message. `announce` runs in the
   * same transaction with the run's counts (the outbox event and the audit
   * entry commit with the outcome or not at all). False when the lease was lost.
   */
  finish(
    runId: string,
    owner: string,
    status: 'succeeded' | 'failed',
    error: { code: string; message: string } | null = null,
    announce?: (tx: DiscoveryAnnouncer, counts: DiscoveryCounts) => Promise<void>,
  ): Promise<boolean> {
    return this.tx(async (r) => {
      const rows = await queryReturning<Raw>(
        r.m,
        `UPDATE discovery_runs
            SET status = $3, phase = CASE WHEN $3 = 'succeeded' THEN 'done' ELSE phase END, lease_owner = NULL, lease_until = NULL,
                finished_at = now(), error_code = $4, error_message = $5
          WHERE id = $1 AND lease_owner = $2 AND status = 'running' RETURNING id`,
        [runId, owner, status, error?.code ?? null, error?.message ?? null],
      );
      if (!rows.length) return false;
      if (announce) await announce({ events: new EventsRepository(r.m), audit: new AuditEventsRepository(r.m) }, await r.counts(runId));
      return true;
    });
  }

  /** Fails a run that never got a worker to hold it (e.g. its executor was deleted before it started). */
  async failUnclaimed(runId: string, error: { code: string; message: string }): Promise<void> {
    await this.m.query(
      `UPDATE discovery_runs SET status = 'failed', finished_at = now(), error_code = $2, error_message = $3
        WHERE id = $1 AND status IN ('queued', 'running') AND (lease_until IS NULL OR lease_until < now())`,
      [runId, error.code, error.message],
    );
  }

  /** Runs left queued longer than `after` (an interval), or running under a lapsed lease: the reconciler enqueues them again. */
  async unfinished(after: string): Promise<{ id: string; account_id: string | null }[]> {
    return this.m.query(
      `SELECT r.id, s.account_id FROM discovery_runs r LEFT JOIN secrets s ON s.id = r.executor_secret_id
        WHERE (r.status = 'queued' AND r.created_at < now() - $1::interval)
           OR (r.status = 'running' AND (r.lease_until IS NULL OR r.lease_until < now()))
        ORDER BY r.created_at LIMIT 500`,
      [after],
    );
  }

  /** Keys found, managed and unmanaged. */
  async counts(runId: string): Promise<DiscoveryCounts> {
    const [c]: Raw[] = await this.m.query(
      `SELECT count(*)::int AS keys, count(managed_secret_id)::int AS managed FROM discovery_findings WHERE run_id = $1`,
      [runId],
    );
    return { keys: Number(c.keys), managed: Number(c.managed), unmanaged: Number(c.keys) - Number(c.managed) };
  }

  // ------------------------------------------------------------ users and findings

  async usersOf(runId: string): Promise<DiscoveryUserRow[]> {
    const rows: Raw[] = await this.m.query(`SELECT * FROM discovery_users WHERE run_id = $1 ORDER BY user_name`, [runId]);
    return rows.map(userOf);
  }

  async findFinding(runId: string, findingId: string): Promise<DiscoveryFindingRow | null> {
    const rows: Raw[] = await this.m.query(`SELECT * FROM discovery_findings WHERE run_id = $1 AND id = $2`, [runId, findingId]);
    return rows.length ? findingOf(rows[0]) : null;
  }

  async findingsOfUser(runId: string, userName: string): Promise<DiscoveryFindingRow[]> {
    const rows: Raw[] = await this.m.query(`SELECT * FROM discovery_findings WHERE run_id = $1 AND user_name = $2 ORDER BY id`, [runId, userName]);
    return rows.map(findingOf);
  }

  /** A finding with the folder of the secret that manages it (null when unmanaged), for the caller's scope check. */
  async findFindingWithFolder(runId: string, findingId: string): Promise<ManagedFinding | null> {
    const rows: Raw[] = await this.m.query(
      `SELECT f.*, s.folder AS managed_folder FROM discovery_findings f LEFT JOIN secrets s ON s.id = f.managed_secret_id
        WHERE f.run_id = $1 AND f.id = $2`,
      [runId, findingId],
    );
    return rows.length ? { ...findingOf(rows[0]), managedFolder: (rows[0].managed_folder as string | null) ?? null } : null;
  }

  /**
   * One page of a run's findings in id order, and one row more than `limit`
   * when there is a next page; each with the folder of its managing secret.
   */
  async listFindings(runId: string, f: FindingFilter): Promise<ManagedFinding[]> {
    const params: unknown[] = [runId, f.limit + 1];
    const where = ['f.run_id = $1'];
    const add = (sql: (p: string) => string, v: unknown) => {
      params.push(v);
      where.push(sql(`$${params.length}`));
    };
    if (f.afterId) add((p) => `f.id > ${p}`, f.afterId);
    if (f.managed !== undefined) where.push(f.managed ? 'f.managed_secret_id IS NOT NULL' : 'f.managed_secret_id IS NULL');
    if (f.hasConsolePassword !== undefined) add((p) => `f.has_console_password = ${p}`, f.hasConsolePassword);
    if (f.olderThanDays !== undefined) add((p) => `f.key_created_at <= ${p}::timestamptz`, new Date(f.now.getTime() - f.olderThanDays * 86_400_000));
    if (f.unusedForDays !== undefined) {
      add((p) => `(f.last_used_at IS NULL OR f.last_used_at <= ${p}::timestamptz)`, new Date(f.now.getTime() - f.unusedForDays * 86_400_000));
    }
    const rows: Raw[] = await this.m.query(
      `SELECT f.*, s.folder AS managed_folder FROM discovery_findings f LEFT JOIN secrets s ON s.id = f.managed_secret_id
        WHERE ${where.join(' AND ')} ORDER BY f.id LIMIT $2`,
      params,
    );
    return rows.map((r) => ({ ...findingOf(r), managedFolder: (r.managed_folder as string | null) ?? null }));
  }
}
