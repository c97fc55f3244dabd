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

/**
 * The Standard Webhooks headers of one delivery attempt. The signature covers
 * "id.timestamp.body", so a captured request cannot be replayed with a fresh
 * time (the receiver rejects old timestamps) or under another id (receivers
 * de-duplicate on webhook-id). `key` is the decoded `whsec_` secret.
 */
export function webhookHeaders(key: Buffer, id: string, at: Date, body: string): Record<'webhook-id' | 'webhook-timestamp' | 'webhook-signature', string> {
  const timestamp = String(Math.floor(at.getTime() / 1000));
  const signature = createHmac('sha256', key).update(`${id}.${timestamp}.${body}`, 'utf8').digest('base64');
  return { 'webhook-id': id, 'webhook-timestamp': timestamp, 'webhook-signature': `v1,${signature}` };
}
