import type {
  DiscoveriesRepository,
  DiscoveryAnnouncer,
  DiscoveryFindingRow,
  DiscoveryRunRow,
  DiscoveryUserRow,
  DiscoveryWarning,
  EventsRepository,
  AuditEventsRepository,
} from '@keyturn/store';
import type { FakeClock } from './clock.fake.js';
import { fakeId, type FakeStore } from './store.fake.js';

type PublicOf<T> = { [K in keyof T]: T[K] };

const clone = <T>(v: T): T => structuredClone(v);
const apiOnly = (): never => {
  throw new Error('an API-side discovery query: proved by the Postgres spec and the e2e tests, not faked');
};

/**
 * The discovery tables in memory, for the run's unit specs: the lease rules
 * (claim, renew, writes only by the lease owner), a page or a user recorded
 * twice adding nothing, a user counted once, the outcome and its announcement
 * together. Announcements go to the FakeStore's outbox and audit log.
 */
export class FakeDiscoveries implements PublicOf<DiscoveriesRepository> {
  readonly runs = new Map<string, DiscoveryRunRow>();
  readonly users = new Map<string, DiscoveryUserRow[]>();
  readonly findings = new Map<string, DiscoveryFindingRow[]>();

  constructor(
    private readonly clock: FakeClock,
    private readonly store: FakeStore,
  ) {}

  /** A run row as a spec wants it (queued by default). */
  addRun(r: Partial<DiscoveryRunRow> & Pick<DiscoveryRunRow, 'executorSecretId'>): DiscoveryRunRow {
    const row: DiscoveryRunRow = {
      id: fakeId('discovery'),
      pathPrefix: '/',
      trigger: 'api',
      requestedBy: 'spec',
      status: 'queued',
      phase: 'list-users',
      nextMarker: null,
      usersTotal: null,
      usersScanned: 0,
      attempt: 0,
      warnings: [],
      errorCode: null,
      errorMessage: null,
      leaseOwner: null,
      leaseUntil: null,
      createdAt: new Date(this.clock.now()),
      startedAt: null,
      finishedAt: null,
      ...r,
    };
    this.runs.set(row.id, row);
    this.users.set(row.id, this.users.get(row.id) ?? []);
    this.findings.set(row.id, this.findings.get(row.id) ?? []);
    return clone(row);
  }

  private held(runId: string, owner: string): DiscoveryRunRow | null {
    const r = this.runs.get(runId);
    return r && r.leaseOwner === owner && r.status === 'running' ? r : null;
  }

  async createRun(): Promise<DiscoveryRunRow> {
    return apiOnly();
  }

  async getRun(id: string): Promise<DiscoveryRunRow | null> {
    return clone(this.runs.get(id) ?? null);
  }

  async getRunWithFolder(): Promise<never> {
    return apiOnly();
  }

  async listRuns(): Promise<never> {
    return apiOnly();
  }

  async claim(id: string, owner: string, leaseMs: number): Promise<DiscoveryRunRow | null> {
    const r = this.runs.get(id);
    const now = this.clock.now();
    if (!r) return null;
    const free = r.status === 'queued' || (r.status === 'running' && (!r.leaseUntil || r.leaseUntil.getTime() < now || r.leaseOwner === owner));
    if (!free) return null;
    Object.assign(r, { status: 'running', leaseOwner: owner, leaseUntil: new Date(now + leaseMs), attempt: r.attempt + 1, startedAt: r.startedAt ?? new Date(now) });
    return clone(r);
  }

  async renewLease(id: string, owner: string, leaseMs: number): Promise<boolean> {
    const r = this.held(id, owner);
    if (r) r.leaseUntil = new Date(this.clock.now() + leaseMs);
    return r !== null;
  }

  async releaseLease(id: string, owner: string): Promise<void> {
    const r = this.runs.get(id);
    if (r?.leaseOwner === owner) Object.assign(r, { leaseOwner: null, leaseUntil: null });
  }

  async recordUsersPage(runId: string, owner: string, users: Parameters<DiscoveriesRepository['recordUsersPage']>[2], nextMarker: string | null): Promise<boolean> {
    const r = this.held(runId, owner);
    if (!r || r.phase !== 'list-users') return false;
    const stored = this.users.get(runId)!;
    for (const u of users) {
      if (!stored.some((s) => s.userName === u.userName)) stored.push({ ...clone(u), runId, hasConsolePassword: null, scannedAt: null });
    }
    if (nextMarker !== null) r.nextMarker = nextMarker;
    else Object.assign(r, { nextMarker: null, phase: 'scan-users', usersTotal: stored.length });
    return true;
  }

  async unscannedUsers(runId: string, limit: number): Promise<DiscoveryUserRow[]> {
    return clone(
      (this.users.get(runId) ?? [])
        .filter((u) => !u.scannedAt)
        .sort((a, b) => (a.userName < b.userName ? -1 : 1))
        .slice(0, limit),
    );
  }

  async recordUserScan(runId: string, owner: string, userName: string, hasConsolePassword: boolean | null, found: Parameters<DiscoveriesRepository['recordUserScan']>[4]): Promise<boolean> {
    const r = this.held(runId, owner);
    if (!r) return false;
    const stored = this.findings.get(runId)!;
    for (const f of found) {
      if (!stored.some((s) => s.keyIdHmac === f.keyIdHmac)) stored.push({ ...clone(f), id: fakeId('finding'), runId });
    }
    const u = this.users.get(runId)!.find((x) => x.userName === userName);
    if (u && !u.scannedAt) {
      Object.assign(u, { scannedAt: new Date(this.clock.now()), hasConsolePassword });
      r.usersScanned += 1;
    }
    return true;
  }

  async addWarning(runId: string, w: DiscoveryWarning): Promise<void> {
    const r = this.runs.get(runId)!;
    if (!r.warnings.some((x) => x.code === w.code && (x.action ?? null) === (w.action ?? null))) r.warnings.push(clone(w));
  }

  async finish(
    runId: string,
    owner: string,
    status: 'succeeded' | 'failed',
    error: { code: string; message: string } | null = null,
    announce?: (tx: DiscoveryAnnouncer, counts: { keys: number; managed: number; unmanaged: number }) => Promise<void>,
  ): Promise<boolean> {
    const r = this.held(runId, owner);
    if (!r) return false;
    Object.assign(r, {
      status,
      phase: status === 'succeeded' ? 'done' : r.phase,
      leaseOwner: null,
      leaseUntil: null,
      finishedAt: new Date(this.clock.now()),
      errorCode: error?.code ?? null,
      errorMessage: error?.message ?? null,
    });
    const tx = { events: this.store.events as EventsRepository, audit: this.store.audit as AuditEventsRepository };
    if (announce) await announce(tx, await this.counts(runId));
    return true;
  }

  async failUnclaimed(): Promise<void> {
    return apiOnly();
  }

  async unfinished(): Promise<never> {
    return apiOnly();
  }

  async counts(runId: string): Promise<{ keys: number; managed: number; unmanaged: number }> {
    const f = this.findings.get(runId) ?? [];
    const managed = f.filter((x) => x.managedSecretId).length;
    return { keys: f.length, managed, unmanaged: f.length - managed };
  }

  async usersOf(runId: string): Promise<DiscoveryUserRow[]> {
    return clone(this.users.get(runId) ?? []);
  }

  async findFinding(runId: string, findingId: string): Promise<DiscoveryFindingRow | null> {
    return clone((this.findings.get(runId) ?? []).find((f) => f.id === findingId) ?? null);
  }

  async findingsOfUser(runId: string, userName: string): Promise<DiscoveryFindingRow[]> {
    return clone((this.findings.get(runId) ?? []).filter((f) => f.userName === userName));
  }

  async findFindingWithFolder(): Promise<never> {
    return apiOnly();
  }

  async listFindings(): Promise<never> {
    return apiOnly();
  }
}
