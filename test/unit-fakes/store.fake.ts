import type {
  AuditEventEntity,
  AuditEventsRepository,
  ClaimResult,
  EventType,
  EventsRepository,
  HeartbeatEntity,
  HeartbeatsRepository,
  LeaseLocks,
  NewSecretVersion,
  Repositories,
  RotationEntity,
  RotationWarning,
  RotationsRepository,
  SecretEntity,
  SecretVersionEntity,
  SecretVersionsRepository,
  SecretsRepository,
  Transactions,
  VersionState,
  WebhookDeliveriesRepository,
} from '@keyturn/store';
import type { VersionCipher } from '@keyturn/vault';
import type { FakeClock } from './clock.fake.js';

// In-memory stand-ins for libs/store's repositories, for the worker's unit
// specs. Each one keeps the SQL's semantics that the use cases rely on (the
// claim and lease rules, one running rotation per secret, states moving
// together, a transaction rolled back as a whole) and nothing else.

type PublicOf<T> = { [K in keyof T]: T[K] };

export interface StoredEvent {
  id: string;
  type: EventType;
  secretId: string | null;
  payload: Record<string, unknown>;
  deliveries: string[];
}

export interface Tables {
  secrets: Map<string, SecretEntity>;
  versions: SecretVersionEntity[];
  rotations: Map<string, RotationEntity>;
  heartbeats: Map<string, HeartbeatEntity>;
  events: StoredEvent[];
  audit: Partial<AuditEventEntity>[];
}

const clone = <T>(v: T): T => structuredClone(v);
/** The scheduler's queries are proved by its e2e tests, not faked here. */
const schedulerOnly = (): never => {
  throw new Error('a scheduler query: not faked for the worker specs');
};
let seq = 0;
export const fakeId = (prefix: string) => `${prefix}-${String(++seq).padStart(4, '0')}`;

/** The database of one spec: its tables, the repositories over them, and transactions that roll back. */
export class FakeStore {
  t: Tables = { secrets: new Map(), versions: [], rotations: new Map(), heartbeats: new Map(), events: [], audit: [] };
  /** Every transaction run, and whether it committed. */
  readonly transactionsRun: ('committed' | 'rolled back')[] = [];
  /** Rows taken FOR UPDATE (secret ids), in order. */
  readonly locked: string[] = [];
  /** The lease locks, in the same database: a rotation's claim can take one (RotationsRepository.claim with a lock). */
  readonly locks: FakeLeaseLocks;
  /** The settings row's value, as claimForCheck reads it (WorkerWorld points it at its `global`). */
  globalSettings: () => Record<string, unknown> | null = () => null;

  readonly rotations: RotationsRepository;
  readonly secrets: SecretsRepository;
  readonly versions: SecretVersionsRepository;
  readonly heartbeats: HeartbeatsRepository;
  readonly events: EventsRepository;
  readonly audit: AuditEventsRepository;
  readonly transactions: Transactions;

  constructor(readonly clock: FakeClock) {
    this.locks = new FakeLeaseLocks(clock);
    const repos = this.repositories();
    this.rotations = repos.rotations;
    this.secrets = repos.secrets;
    this.versions = repos.versions;
    this.heartbeats = repos.heartbeats;
    this.events = repos.events;
    this.audit = repos.audit;
    const tx: PublicOf<Transactions> = {
      run: async <T>(work: (r: Repositories) => Promise<T>): Promise<T> => {
        const before = clone(this.t);
        try {
          const out = await work(repos);
          this.transactionsRun.push('committed');
          return out;
        } catch (e) {
          this.t = before;
          this.transactionsRun.push('rolled back');
          throw e;
        }
      },
    };
    this.transactions = tx as Transactions;
  }

  // ------------------------------------------------------------ rows

  addSecret(s: Partial<SecretEntity> & Pick<SecretEntity, 'type' | 'username'>): SecretEntity {
    const row = {
      id: fakeId('secret'),
      name: s.username,
      folder: '/',
      accountId: '111111111111',
      privilegedSecretId: null,
      iamUserId: null,
      settings: {},
      heartbeatStatus: 'unknown',
      heartbeatFailures: 0,
      lastHeartbeatAt: null,
      nextHeartbeatAt: null,
      lastRotatedAt: null,
      versionCounter: 0,
      createdAt: new Date(this.clock.now()),
      updatedAt: new Date(this.clock.now()),
      ...s,
    } as SecretEntity;
    this.t.secrets.set(row.id, row);
    return clone(row);
  }

  /** A version as the fake cipher seals it (`fields` in the clear, under `plain`). */
  addVersion(secretId: string, state: VersionState, fields: Record<string, string>, at = this.clock.now()): SecretVersionEntity {
    const s = this.t.secrets.get(secretId)!;
    s.versionCounter += 1;
    const listing = { keyStatus: null, keyCreatedAt: null, keyListedAt: null };
    const row = { ...listing, ...fakeCipher.seal(secretId, s.versionCounter, state, fields), createdAt: new Date(at), updatedAt: new Date(at) } as SecretVersionEntity;
    this.t.versions.push(row);
    return clone(row);
  }

  addRotation(r: Partial<RotationEntity> & Pick<RotationEntity, 'secretId'>): RotationEntity {
    const secret = this.t.secrets.get(r.secretId)!;
    const row = {
      id: fakeId('rotation'),
      secretType: secret.type,
      status: 'queued',
      step: 'prepare',
      mode: null,
      executorSecretId: null,
      attempt: 0,
      requestedBy: 'spec',
      trigger: 'api',
      idempotencyKey: null,
      pendingVersion: null,
      aboutToCreateAt: null,
      leaseOwner: null,
      leaseExpiresAt: null,
      retirePending: false,
      retireAt: null,
      retiredAt: null,
      errorCode: null,
      errorMessage: null,
      warnings: [],
      createdAt: new Date(this.clock.now()),
      startedAt: null,
      finishedAt: null,
      updatedAt: new Date(this.clock.now()),
      ...r,
    } as RotationEntity;
    this.t.rotations.set(row.id, row);
    return clone(row);
  }

  addHeartbeat(h: Partial<HeartbeatEntity> & Pick<HeartbeatEntity, 'secretId'>): HeartbeatEntity {
    const row = {
      id: fakeId('heartbeat'),
      status: 'queued',
      outcome: null,
      trigger: 'schedule',
      requestedBy: 'system:scheduler',
      checkedArn: null,
      keyStatus: null,
      keyCreatedAt: null,
      errorCode: null,
      errorMessage: null,
      attempt: 0,
      leaseExpiresAt: null,
      createdAt: new Date(this.clock.now()),
      finishedAt: null,
      ...h,
    } as HeartbeatEntity;
    this.t.heartbeats.set(row.id, row);
    return clone(row);
  }

  // ------------------------------------------------------------ reading for assertions

  rotation(id: string): RotationEntity {
    return this.t.rotations.get(id)!;
  }

  secret(id: string): SecretEntity {
    return this.t.secrets.get(id)!;
  }

  heartbeat(id: string): HeartbeatEntity {
    return this.t.heartbeats.get(id)!;
  }

  /** The versions of a secret as [version, state, fields], oldest first. */
  versionsOf(secretId: string): [number, VersionState, Record<string, string>][] {
    return this.t.versions
      .filter((v) => v.secretId === secretId)
      .sort((a, b) => a.version - b.version)
      .map((v) => [v.version, v.state, fakeCipher.open(v)]);
  }

  /** The fields of the secret's version in `state`. */
  fieldsIn(secretId: string, state: VersionState): Record<string, string> | undefined {
    const v = this.t.versions.find((x) => x.secretId === secretId && x.state === state);
    return v && fakeCipher.open(v);
  }

  warningCodes(rotationId: string): string[] {
    return this.rotation(rotationId).warnings.map((w) => w.code);
  }

  // ------------------------------------------------------------ the repositories

  private repositories(): Repositories {
    const db = () => this.t;
    const now = () => this.clock.now();
    const lockedIds = this.locked;

    const rotations: PublicOf<RotationsRepository> = {
      get: async (id) => clone(db().rotations.get(id) ?? null),
      getWithSecret: async (id) => {
        const r = db().rotations.get(id);
        return r ? clone({ rotation: r, secret: db().secrets.get(r.secretId) ?? null }) : null;
      },
      getOrFail: async (id) => {
        const r = db().rotations.get(id);
        if (!r) throw new Error(`EntityNotFound: rotation ${id}`);
        return clone(r);
      },
      journal: async (rot, changes) => {
        Object.assign(rot, changes);
        Object.assign(db().rotations.get(rot.id)!, clone(changes));
      },
      // One statement (ABOUT_TO_CREATE_SQL): the journal write and the version retired.
      aboutToCreate: async (rot, at, retireVersionId) => {
        Object.assign(rot, { step: 'create', aboutToCreateAt: at });
        Object.assign(db().rotations.get(rot.id)!, { step: 'create', aboutToCreateAt: at });
        const v = db().versions.find((x) => x.id === retireVersionId);
        if (v) v.state = 'retired';
      },
      appendWarning: async (rot, w: RotationWarning) => {
        rot.warnings = [...(rot.warnings ?? []), w];
        const row = db().rotations.get(rot.id)!;
        row.warnings = [...row.warnings, clone(w)];
      },
      setPending: async (rot, pendingVersion, step) => {
        Object.assign(db().rotations.get(rot.id)!, step ? { pendingVersion, step } : { pendingVersion });
      },
      setStep: async (id, step) => {
        db().rotations.get(id)!.step = step;
      },
      // As CLAIM_SQL does it: the lock first (this store's LeaseLocks), the claim only under it, and a claim
      // refused by rotations_one_running undoes the lock it took.
      claim: async (id, owner, leaseMs, lock): Promise<ClaimResult> => {
        const before = this.locks.held.get(lock.key);
        if (!(await this.locks.tryTake(lock.key, lock.owner, leaseMs))) return { claimed: false, busy: 'user' };
        const res = await claimRow(id, owner, leaseMs);
        if (!res.claimed && res.busy === 'secret') {
          if (before) this.locks.held.set(lock.key, before);
          else this.locks.held.delete(lock.key);
        }
        return res;
      },
      renewLease: async (id, owner, leaseMs) => {
        const r = db().rotations.get(id);
        if (r && r.leaseOwner === owner) r.leaseExpiresAt = new Date(now() + leaseMs);
      },
      releaseLease: async (id, owner) => {
        const r = db().rotations.get(id);
        if (r && r.leaseOwner === owner) Object.assign(r, { leaseOwner: null, leaseExpiresAt: null });
      },
      requeue: async (id, errorCode, errorMessage) => {
        Object.assign(db().rotations.get(id)!, { status: 'queued', leaseOwner: null, leaseExpiresAt: null, errorCode, errorMessage });
      },
      inGrace: async (secretId, exceptId) =>
        [...db().rotations.values()]
          .filter((r) => r.secretId === secretId && r.id !== exceptId && r.retirePending && r.retireAt && !r.retiredAt)
          .map((r) => clone(r)),
      giveUpRetire: async (id) => {
        db().rotations.get(id)!.retirePending = false;
      },
      unfinished: schedulerOnly,
      insertScheduled: schedulerOnly,
      // As FINISH_SQL does it: the finish, and the announcement only when the status is news, completed from the row.
      finish: async (id, status, finishedAt, error, announce, release) => {
        const done = await finish(id, status, finishedAt, error);
        if (!done) return null;
        if (release) await this.locks.release(release.key, release.owner);
        const { before } = done;
        const announced = before.status !== status;
        if (announced) {
          const succeeded = status === 'succeeded';
          db().events.push({
            id: announce.event.id,
            type: announce.event.type,
            secretId: before.secretId,
            payload: {
              ...clone(announce.event.payload),
              secretType: before.secretType,
              mode: before.mode,
              version: succeeded ? done.currentVersion : null,
              previousKeyRetireAt: succeeded && before.retirePending && before.retireAt ? before.retireAt.toISOString() : null,
            },
            deliveries: [...announce.event.urls],
          });
          db().audit.push({ ...clone(announce.audit), details: { ...clone(announce.audit.details), mode: before.mode, attempt: before.attempt } });
        }
        return { ...done, announced };
      },
    };
    async function claimRow(id: string, owner: string, leaseMs: number): Promise<ClaimResult> {
      const r = db().rotations.get(id);
      const leaseFree = (x: RotationEntity) => x.leaseExpiresAt === null || x.leaseExpiresAt.getTime() < now() || x.leaseOwner === owner;
      if (r && (r.status === 'queued' || ((r.status === 'running' || r.status === 'succeeded') && leaseFree(r)))) {
        const next = r.status === 'succeeded' ? 'succeeded' : 'running';
        // rotations_one_running
        if (next === 'running' && [...db().rotations.values()].some((o) => o.id !== id && o.secretId === r.secretId && o.status === 'running')) {
          return { claimed: false, busy: 'secret' };
        }
        Object.assign(r, { status: next, leaseOwner: owner, leaseExpiresAt: new Date(now() + leaseMs), attempt: r.attempt + 1, startedAt: r.startedAt ?? new Date(now()) });
        return { claimed: true, rotation: clone(r) };
      }
      return { claimed: false, busy: 'lease', now: clone(r ?? null) };
    }
    async function finish(id: string, status: 'succeeded' | 'failed', finishedAt: Date, error: { code: string | null; message: string | null }) {
      const r = db().rotations.get(id);
      if (!r) return null;
      const before = clone(r);
      Object.assign(r, {
        status,
        leaseOwner: null,
        leaseExpiresAt: null,
        finishedAt: r.finishedAt ?? finishedAt,
        ...(status === 'failed' ? { errorCode: error.code, errorMessage: error.message } : { errorCode: null, errorMessage: null }),
      });
      const current = db().versions.find((v) => v.secretId === r.secretId && v.state === 'current');
      return { before, currentVersion: current?.version ?? null };
    }

    const secrets: PublicOf<SecretsRepository> = {
      get: async (id) => clone(db().secrets.get(id) ?? null),
      withLiveVersions: async (id, rotationId = null) => {
        const s = db().secrets.get(id);
        if (!s) return null;
        const othersInGrace =
          rotationId === null ? null : [...db().rotations.values()].some((r) => r.secretId === id && r.id !== rotationId && r.retirePending && r.retireAt && !r.retiredAt);
        const globalSettings = rotationId === null ? null : this.globalSettings();
        return clone({ secret: s, versions: db().versions.filter((v) => v.secretId === id && ['current', 'previous', 'pending'].includes(v.state)), othersInGrace, globalSettings });
      },
      nextVersion: async (id) => {
        const s = db().secrets.get(id);
        if (!s) return null;
        lockedIds.push(id);
        return ++s.versionCounter;
      },
      lockHeartbeatState: async (id) => {
        lockedIds.push(id);
        const s = db().secrets.get(id);
        return s ? { heartbeatStatus: s.heartbeatStatus, heartbeatFailures: s.heartbeatFailures } : null;
      },
      markChangedAndChecked: async (id, r) => {
        lockedIds.push(id);
        const s = db().secrets.get(id);
        if (!s) return null;
        const before = { heartbeatStatus: s.heartbeatStatus, heartbeatFailures: s.heartbeatFailures };
        Object.assign(s, { lastRotatedAt: new Date(now()), heartbeatStatus: 'success', heartbeatFailures: 0, lastHeartbeatAt: r.at, nextHeartbeatAt: dueOf(s, r.next) });
        return before;
      },
      // As keyturn_promote_checked (migration 1795838000000) does it, in one call outside a transaction.
      promoteChecked: async (secretId, rotationId, step, c) => {
        const s = db().secrets.get(secretId);
        if (!s || !db().versions.some((v) => v.secretId === secretId && v.state === 'pending')) return 'nothing-to-promote';
        if (s.heartbeatStatus !== 'success') return 'status-changed';
        await secrets.markChangedAndChecked(secretId, { at: c.at, next: c.next });
        await versions.moveState(secretId, 'previous', 'retired');
        await versions.moveState(secretId, 'current', 'previous');
        const promoted = await versions.promotePending(secretId);
        await heartbeats.insertChecked({
          id: c.heartbeatId, secretId, requestedBy: c.requestedBy, checkedArn: c.checkedArn, keyStatus: 'Active', keyCreatedAt: promoted?.keyCreatedAt ?? null, at: c.at,
        });
        await rotations.setStep(rotationId, step);
        return 'promoted';
      },
      setIamUserId: async (id, iamUserId) => {
        const s = db().secrets.get(id);
        if (s) s.iamUserId = iamUserId;
      },
      markChanged: async (id, checkHeartbeatNow) => {
        const s = db().secrets.get(id);
        if (!s) return;
        s.lastRotatedAt = new Date(now());
        if (checkHeartbeatNow) s.nextHeartbeatAt = dueOf(s, new Date(now()));
      },
      claimDueHeartbeats: schedulerOnly,
      dueForAutoChange: schedulerOnly,
      claimDueScheduledChanges: schedulerOnly,
      claimStaleSchedules: schedulerOnly,
      setScheduleState: schedulerOnly,
      recordHeartbeat: async (id, r) => {
        const s = db().secrets.get(id)!;
        Object.assign(s, { heartbeatStatus: r.status, heartbeatFailures: r.failures, lastHeartbeatAt: r.at, nextHeartbeatAt: dueOf(s, r.next) });
      },
    };

    const of = (secretId: string) => db().versions.filter((v) => v.secretId === secretId);
    const versions: PublicOf<SecretVersionsRepository> = {
      live: async (secretId) => clone(of(secretId).filter((v) => ['current', 'previous', 'pending'].includes(v.state))),
      inState: async (secretId, state) => clone(of(secretId).find((v) => v.state === state) ?? null),
      currentId: async (secretId) => of(secretId).find((v) => v.state === 'current')?.id ?? null,
      newest: async (secretId, states, take) =>
        clone(of(secretId).filter((v) => states.includes(v.state)).sort((a, b) => b.version - a.version).slice(0, take)),
      newerThan: async (secretId, version, states, take) =>
        clone(of(secretId).filter((v) => v.version > version && states.includes(v.state)).sort((a, b) => a.version - b.version).slice(0, take)),
      // As keyturn_store_pending (migration 1795838100000) does it, in one call outside a transaction.
      storePending: async (rotationId, step, row) => {
        const s = db().secrets.get(row.secretId);
        if (!s || s.versionCounter !== row.version - 1) return null;
        lockedIds.push(row.secretId);
        // One statement: all of it or, if a part fails, none of it.
        const pendings = db().versions.filter((v) => v.secretId === row.secretId && v.state === 'pending');
        s.versionCounter++;
        try {
          await versions.moveState(row.secretId, 'pending', 'discarded');
          const stored = await versions.insert({ ...row, state: 'pending' });
          Object.assign(db().rotations.get(rotationId)!, { pendingVersion: row.version, step });
          return stored;
        } catch (e) {
          s.versionCounter--;
          for (const v of pendings) v.state = 'pending';
          throw e;
        }
      },
      insert: async (row: NewSecretVersion) => {
        if (!db().secrets.has(row.secretId)) throw Object.assign(new Error('insert violates foreign key secret_versions_secret_id_fkey'), { code: '23503' });
        const listing = { keyStatus: null, keyCreatedAt: null, keyListedAt: null };
        const stored = { ...listing, secretUnknown: false, ...clone(row), createdAt: new Date(now()), updatedAt: new Date(now()) } as SecretVersionEntity;
        db().versions.push(stored);
        return clone(stored);
      },
      promotePending: async (secretId) => {
        const v = of(secretId).find((x) => x.state === 'pending');
        if (!v) return null;
        v.state = 'current';
        return clone(v);
      },
      recordListing: async (id, l) => {
        const v = db().versions.find((x) => x.id === id);
        if (v) Object.assign(v, clone(l));
      },
      setState: async (id, state) => {
        const v = db().versions.find((x) => x.id === id);
        if (v) v.state = state;
      },
      moveState: async (secretId, from, to) => {
        for (const v of of(secretId)) if (v.state === from) v.state = to;
      },
      holdersOfKeyIdHmacs: async (hmacs, exceptSecretId) =>
        db()
          .versions.filter((v) => v.keyIdHmac && hmacs.includes(v.keyIdHmac) && v.state !== 'retired' && v.secretId !== exceptSecretId)
          .sort((a, b) => a.id.localeCompare(b.id))
          .map((v) => ({ key_id_hmac: v.keyIdHmac!, secret_id: v.secretId })),
    };

    const heartbeats: PublicOf<HeartbeatsRepository> = {
      claim: async (id) => {
        const h = db().heartbeats.get(id);
        if (!h || !(h.status === 'queued' || (h.status === 'running' && h.leaseExpiresAt !== null && h.leaseExpiresAt.getTime() < now()))) return false;
        Object.assign(h, { status: 'running', attempt: h.attempt + 1, leaseExpiresAt: new Date(now() + 120_000) });
        return true;
      },
      claimForCheck: async (id) => {
        if (!(await heartbeats.claim(id))) return null;
        const h = db().heartbeats.get(id)!;
        const s = db().secrets.get(h.secretId);
        return {
          hb: { id: h.id, secretId: h.secretId, attempt: h.attempt },
          secret: s ? { id: s.id, username: s.username, accountId: s.accountId, settings: clone(s.settings) } : null,
          current: clone(of(h.secretId).find((v) => v.state === 'current') ?? null),
          globalSettings: this.globalSettings(),
        };
      },
      finishChecked: async (id, secretId, r) => {
        Object.assign(db().heartbeats.get(id)!, { status: 'done', outcome: r.outcome, finishedAt: r.at, leaseExpiresAt: null, ...clone(r.detail) });
        const s = db().secrets.get(secretId)!;
        Object.assign(s, { heartbeatStatus: r.secret.status, heartbeatFailures: r.secret.failures, lastHeartbeatAt: r.at, nextHeartbeatAt: dueOf(s, r.secret.next) });
      },
      // As keyturn_finish_heartbeat (migrations 1795835000000 and 1795836000000) does it, in one call outside a transaction.
      finishUnchanged: async (id, secretId, checkedVersionId, r) => {
        lockedIds.push(secretId);
        const s = db().secrets.get(secretId);
        if (!s) return 'gone';
        if ((of(secretId).find((v) => v.state === 'current')?.id ?? null) !== checkedVersionId) return 'stale';
        if (s.heartbeatStatus !== r.outcome) return 'status-changed';
        const failures = r.outcome === 'success' ? 0 : s.heartbeatFailures + 1;
        const factor = r.outcome === 'success' ? 1 : 2 ** Math.min(Math.max(failures - 1, 0), 3);
        Object.assign(db().heartbeats.get(id)!, { status: 'done', outcome: r.outcome, finishedAt: r.at, leaseExpiresAt: null, ...clone(r.detail) });
        Object.assign(s, { heartbeatStatus: r.outcome, heartbeatFailures: failures, lastHeartbeatAt: r.at, nextHeartbeatAt: dueOf(s, new Date(r.at.getTime() + r.intervalMs * factor)) });
        const v = r.listing && checkedVersionId ? db().versions.find((x) => x.id === checkedVersionId) : undefined;
        if (v) Object.assign(v, clone(r.listing));
        return 'finished';
      },
      insertChecked: async (h) => {
        db().heartbeats.set(h.id, {
          id: h.id, secretId: h.secretId, status: 'done', outcome: 'success', trigger: 'rotation', requestedBy: h.requestedBy, checkedArn: h.checkedArn,
          keyStatus: h.keyStatus, keyCreatedAt: h.keyCreatedAt, errorCode: null, errorMessage: null, attempt: 1, leaseExpiresAt: null, createdAt: h.at, finishedAt: h.at,
        } as HeartbeatEntity);
      },
      getOrFail: async (id) => {
        const h = db().heartbeats.get(id);
        if (!h) throw new Error(`EntityNotFound: heartbeat ${id}`);
        return clone(h);
      },
      requeue: async (id) => {
        Object.assign(db().heartbeats.get(id)!, { status: 'queued', leaseExpiresAt: null });
      },
      insertScheduled: schedulerOnly,
      unfinished: schedulerOnly,
      finish: async (id, outcome, finishedAt, detail) => {
        Object.assign(db().heartbeats.get(id)!, { status: 'done', outcome, finishedAt, leaseExpiresAt: null, ...clone(detail) });
      },
    };

    const events: PublicOf<EventsRepository> = {
      record: async (urls, type, secretId, payload) => {
        const id = fakeId('event');
        db().events.push({ id, type, secretId, payload: clone(payload), deliveries: [...urls] });
        return id;
      },
    };

    const audit: PublicOf<AuditEventsRepository> = {
      insert: async (row) => {
        db().audit.push(clone(row));
      },
    };

    const deliveries: PublicOf<WebhookDeliveriesRepository> = {
      claimDue: schedulerOnly,
      getOrFail: schedulerOnly,
      event: schedulerOnly,
      delivered: schedulerOnly,
      attemptFailed: schedulerOnly,
    };

    return {
      deliveries: deliveries as WebhookDeliveriesRepository,
      rotations: rotations as RotationsRepository,
      secrets: secrets as SecretsRepository,
      versions: versions as SecretVersionsRepository,
      heartbeats: heartbeats as HeartbeatsRepository,
      events: events as EventsRepository,
      audit: audit as AuditEventsRepository,
    };
  }
}

/**
 * The fake cipher keeps fields in the clear (`fields.plain`), the key hint as
 * the real one, and a blind index per "KEK": `k1:<id>` for new versions, and
 * `k0:<id>` too when looking up, as with a retired KEK still configured.
 */
export const fakeCipher: VersionCipher = {
  open: (v) => clone((v.fields as unknown as { plain: Record<string, string> }).plain),
  seal: (secretId, version, state, fields) => ({
    id: fakeId('version'),
    secretId,
    version,
    state,
    kekId: 'k1',
    wrappedKey: 'wrapped',
    fields: { plain: clone(fields) } as unknown as SecretVersionEntity['fields'],
    keyHint: fields.accessKeyId ? `${fields.accessKeyId.slice(0, 4)}…${fields.accessKeyId.slice(-4)}` : null,
    keyIdHmac: fields.accessKeyId ? `k1:${fields.accessKeyId}` : null,
  }),
  accessKeyIdIndexes: (id) => [`k1:${id}`, `k0:${id}`],
};

/** LeaseLocks over a Map, with the same take / renew / release rules. */
export class FakeLeaseLocks implements PublicOf<LeaseLocks> {
  readonly held = new Map<string, { owner: string; expiresAt: number }>();
  readonly released: string[] = [];
  constructor(private readonly clock: FakeClock) {}

  async tryTake(key: string, owner: string, ttlMs: number): Promise<boolean> {
    const l = this.held.get(key);
    if (l && l.expiresAt >= this.clock.now() && l.owner !== owner) return false;
    this.held.set(key, { owner, expiresAt: this.clock.now() + ttlMs });
    return true;
  }

  async renew(key: string, owner: string, ttlMs: number): Promise<boolean> {
    const l = this.held.get(key);
    if (!l || l.owner !== owner) return false;
    l.expiresAt = this.clock.now() + ttlMs;
    return true;
  }

  async release(key: string, owner: string): Promise<void> {
    if (this.held.get(key)?.owner === owner) this.held.delete(key);
    this.released.push(key);
  }

  async withLease<T>(key: string, owner: string, ttlMs: number, work: () => Promise<T>): Promise<{ taken: true; value: T } | { taken: false }> {
    if (!(await this.tryTake(key, owner, ttlMs))) return { taken: false };
    try {
      return { taken: true, value: await work() };
    } finally {
      await this.release(key, owner);
    }
  }
}

/**
 * The due time a write gives the secret: only a key secret has one (a row in
 * heartbeat_due, migration 1795836000000); the other types keep none.
 */
function dueOf(s: SecretEntity, at: Date): Date | null {
  return s.type === 'aws-iam-key' ? at : s.nextHeartbeatAt;
}
