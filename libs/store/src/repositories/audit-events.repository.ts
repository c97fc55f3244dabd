import type { EntityManager } from 'typeorm';
import type { QueryDeepPartialEntity } from 'typeorm/query-builder/QueryPartialEntity.js';
import { AuditEventEntity } from '../entities/audit-event.entity.js';

/** Appends audit events (libs/auth builds the row: `auditRow`). */
export class AuditEventsRepository {
  constructor(private readonly m: EntityManager) {}

  async insert(row: Partial<AuditEventEntity>): Promise<void> {
    await this.m.insert(AuditEventEntity, row as QueryDeepPartialEntity<AuditEventEntity>);
  }
}
