import { createHmac } from 'node:crypto';

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
