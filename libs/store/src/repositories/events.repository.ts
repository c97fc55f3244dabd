import type { EntityManager } from 'typeorm';
import type { QueryDeepPartialEntity } from 'typeorm/query-builder/QueryPartialEntity.js';
import { EventEntity, WebhookDeliveryEntity } from '../entities/event.entity.js';
import { uuidv7 } from '../uuid.js';

export type EventType = 'heartbeat.status-changed' | 'rotation.succeeded' | 'rotation.failed' | 'previous-key.retired' | 'discovery.completed';

/**
 * The outbox: an event and one pending delivery per webhook URL. Used inside
 * the transaction of the change it announces, so both commit together.
 */
export class EventsRepository {
  constructor(private readonly m: EntityManager) {}

  async record(urls: string[], type: EventType, secretId: string | null, payload: Record<string, unknown>): Promise<string> {
    const id = uuidv7();
    await this.m.insert(EventEntity, { id, type, secretId, payload: payload as QueryDeepPartialEntity<Record<string, unknown>> });
    for (const url of urls) {
      await this.m.insert(WebhookDeliveryEntity, { id: uuidv7(), eventId: id, url, status: 'pending', attempts: 0, nextAttemptAt: new Date() });
    }
    return id;
  }
}
