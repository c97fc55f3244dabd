import type { EntityManager } from 'typeorm';
import type { AuditEventEntity } from '../entities/audit-event.entity.js';
import { AUDIT_INSERT_SQL, sqlOn, type Sql } from './read-paths.sql.js';

/** Appends audit events (libs/auth builds the row: `auditRow`), one hand-written INSERT each. */
export class AuditEventsRepository {
  private readonly sql: Sql;

  constructor(m: EntityManager) {
    this.sql = sqlOn(m);
  }

  async insert(e: AuditEventEntity): Promise<void> {
    await this.sql(AUDIT_INSERT_SQL, [
      e.id, e.at, e.actorId, e.actorName, e.action, e.targetType, e.targetId, e.secretId, e.outcome, e.errorCode, e.requestId, e.ip, e.details,
    ]);
  }
}
