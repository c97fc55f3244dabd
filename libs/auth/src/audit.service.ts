import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { Brackets, type EntityManager, Repository } from 'typeorm';
import { ErrorCode, KeyturnError, type Actor } from '@keyturn/contracts';
import { AuditEventEntity, AuditEventsRepository, SecretEntity, uuidv7, type AuditOutcome } from '@keyturn/store';

export interface AuditRecord {
  action: string;
  outcome: AuditOutcome;
  targetType?: string | null;
  targetId?: string | null;
  secretId?: string | null;
  errorCode?: string | null;
  ip?: string | null;
  /** Non-secret context only: ids, field names, settings values. */
  details?: Record<string, unknown>;
}

export interface AuditQuery {
  secretId?: string;
  action?: string;
  actorId?: string;
  from?: Date;
  to?: Date;
  limit: number;
  cursor?: string;
}

export interface AuditEventView {
  id: string;
  at: string;
  actor: { id: string; name: string };
  action: string;
  targetType: string | null;
  targetId: string | null;
  secretId: string | null;
  outcome: AuditOutcome;
  errorCode: string | null;
  requestId: string | null;
  ip: string | null;
  details: Record<string, unknown>;
}

/**
 * The row of one audit event. Request ids and path ids come from the client:
 * they are cut to the column sizes and what Postgres cannot store is replaced,
 * rather than lose the event (and, for a success, answer 500 after the change).
 */
export function auditRow(actor: Actor, rec: AuditRecord): AuditEventEntity {
  return {
    id: uuidv7(),
    at: new Date(),
    actorId: clip(actor.id, 128),
    actorName: clip(actor.name, 128),
    action: clip(rec.action, 64),
    targetType: clip(rec.targetType ?? null, 32),
    targetId: clip(rec.targetId ?? null, 128),
    secretId: rec.secretId ?? null,
    outcome: rec.outcome,
    errorCode: clip(rec.errorCode ?? null, 64),
    requestId: clip(actor.requestId ?? null, 128),
    ip: clip(rec.ip ?? null, 64),
    details: storable(rec.details ?? {}) as Record<string, unknown>,
  };
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

@Injectable()
export class AuditService {
  constructor(
    @InjectRepository(AuditEventEntity) private readonly events: Repository<AuditEventEntity>,
    private readonly appender: AuditEventsRepository,
  ) {}

  /** Appends one event (one INSERT, no entity machinery); pass `m` to make it part of the change's own transaction. */
  async record(actor: Actor, rec: AuditRecord, m?: EntityManager): Promise<void> {
    await (m ? new AuditEventsRepository(m) : this.appender).insert(auditRow(actor, rec));
  }

  /**
   * Newest first; `nextCursor` continues with older events. A caller limited to
   * folders sees only events of secrets that exist now in one of them: events of
   * deleted secrets and events about no secret (settings, API keys) are left out,
   * because nothing shows they belong to its folders.
   */
  async query(actor: Pick<Actor, 'folderScopes'>, q: AuditQuery): Promise<{ items: AuditEventView[]; nextCursor: string | null }> {
    const qb = this.events.createQueryBuilder('e').orderBy('e.id', 'DESC').limit(q.limit + 1);
    const scopes = actor.folderScopes.map((f) => (f.length > 1 ? f.replace(/\/+$/, '') : f));
    if (scopes.length && !scopes.includes('/')) {
      qb.innerJoin(SecretEntity, 's', 's.id = e.secret_id');
      qb.andWhere(
        new Brackets((w) => {
          scopes.forEach((f, i) => {
            w.orWhere(`(s.folder = :scope${i} OR s.folder LIKE :scopeLike${i})`, {
              [`scope${i}`]: f,
              [`scopeLike${i}`]: f.replace(/[\\%_]/g, (c) => '\\' + c) + '/%',
            });
          });
        }),
      );
    }
    if (q.cursor) {
      const id = Buffer.from(q.cursor, 'base64url').toString('utf8');
      if (!UUID.test(id)) throw new KeyturnError(ErrorCode.INVALID_CURSOR);
      qb.andWhere('e.id < :cursor', { cursor: id });
    }
    if (q.secretId) qb.andWhere('e.secret_id = :secretId', { secretId: q.secretId });
    if (q.action) qb.andWhere('e.action = :action', { action: q.action });
    if (q.actorId) qb.andWhere('e.actor_id = :actorId', { actorId: q.actorId });
    if (q.from) qb.andWhere('e.at >= :from', { from: q.from });
    if (q.to) qb.andWhere('e.at < :to', { to: q.to });
    const rows = await qb.getMany();
    const more = rows.length > q.limit;
    const items = rows.slice(0, q.limit).map(toView);
    return { items, nextCursor: more ? Buffer.from(items[items.length - 1].id).toString('base64url') : null };
  }
}

// Postgres refuses U+0000 in text and jsonb, and unpaired surrogates in jsonb.
const UNSTORABLE = /\u0000|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

function clip<T extends string | null>(v: T, max: number): T {
  if (v === null) return v;
  const s = v.replace(UNSTORABLE, '\uFFFD');
  return (s.length > max ? s.slice(0, max) : s) as T;
}

/** Details with every string (keys too) made storable; details are small and shallow, so recursion is fine. */
function storable(v: unknown): unknown {
  if (typeof v === 'string') return v.replace(UNSTORABLE, '\uFFFD');
  if (Array.isArray(v)) return v.map(storable);
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, c]) => [storable(k), storable(c)]));
  return v;
}

function toView(e: AuditEventEntity): AuditEventView {
  return {
    id: e.id,
    at: e.at.toISOString(),
    actor: { id: e.actorId, name: e.actorName },
    action: e.action,
    targetType: e.targetType,
    targetId: e.targetId,
    secretId: e.secretId,
    outcome: e.outcome,
    errorCode: e.errorCode,
    requestId: e.requestId,
    ip: e.ip,
    details: e.details,
  };
}
