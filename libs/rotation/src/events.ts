import { createHmac } from 'node:crypto';
import type { EntityManager } from 'typeorm';
import type { QueryDeepPartialEntity } from 'typeorm/query-builder/QueryPartialEntity.js';
import { EventEntity, WebhookDeliveryEntity, uuidv7 } from '@keyturn/store';

export type EventType = 'heartbeat.status-changed' | 'rotation.succeeded' | 'rotation.failed';

/**
 * Writes an event and one pending delivery per webhook URL in the caller's
 * transaction (an outbox): the state change and its announcement commit together.
 */
export async function recordEvent(
  m: EntityManager,
  urls: string[],
  type: EventType,
  secretId: string | null,
  payload: Record<string, unknown>,
): Promise<string> {
  const id = uuidv7();
  await m.insert(EventEntity, { id, type, secretId, payload: payload as QueryDeepPartialEntity<Record<string, unknown>> });
  for (const url of urls) {
    await m.insert(WebhookDeliveryEntity, { id: uuidv7(), eventId: id, url, status: 'pending', attempts: 0, nextAttemptAt: new Date() });
  }
  return id;
}

/** The value of X-Keyturn-Signature: `sha256=` + hex HMAC-SHA256 of the exact body bytes. */
export function signBody(secret: string, body: string): string {
  return 'sha256=' + createHmac('sha256', secret).update(body, 'utf8').digest('hex');
}
