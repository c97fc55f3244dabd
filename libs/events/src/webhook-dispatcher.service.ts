import { Inject, Injectable, Logger } from '@nestjs/common';
import { KEYTURN_CONFIG, type KeyturnConfig } from '@keyturn/config';
import { WebhookDeliveriesRepository } from '@keyturn/store';
import { webhookHeaders } from './webhook-signature.js';
import { metrics } from '@keyturn/metrics';

const TIMEOUT_MS = 5_000;

/**
 * Delivers event webhooks from the outbox: POST JSON, signed as Standard
 * Webhooks (webhook-id, webhook-timestamp, webhook-signature), retried with
 * exponential backoff; each attempt is recorded on the delivery row.
 */
@Injectable()
export class WebhookDispatcherService {
  private readonly logger = new Logger('Webhooks');

  constructor(
    private readonly deliveries: WebhookDeliveriesRepository,
    @Inject(KEYTURN_CONFIG) private readonly config: KeyturnConfig,
  ) {}

  async deliverDue(limit = 50): Promise<number> {
    const key = this.config.webhooks.signingKey;
    if (!key) return 0;
    // Claim: push the due time ahead so another replica does not send the same delivery concurrently.
    const claimed = await this.deliveries.claimDue(limit);
    await Promise.all(claimed.map(({ id }) => this.deliver(id, key)));
    return claimed.length;
  }

  private async deliver(id: string, key: Buffer): Promise<void> {
    const d = await this.deliveries.getOrFail(id);
    const event = await this.deliveries.event(d.eventId);
    if (!event) return;
    const body = JSON.stringify({ id: event.id, type: event.type, createdAt: event.createdAt.toISOString(), data: event.payload });
    let statusCode: number | null = null;
    let error: string | null = null;
    try {
      const res = await fetch(d.url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'user-agent': 'keyturn-webhooks/1',
          'x-keyturn-event': event.type,
          'x-keyturn-delivery': d.id,
          // The event id is the message id: the same on every retry (and for every URL), so
          // receivers can de-duplicate; the timestamp is this attempt's, so each retry is fresh.
          ...webhookHeaders(key, event.id, new Date(), body),
        },
        body,
        signal: AbortSignal.timeout(TIMEOUT_MS),
        redirect: 'manual',
      });
      statusCode = res.status;
      await res.body?.cancel().catch(() => undefined);
      if (res.status < 200 || res.status >= 300) error = `answered ${res.status}`;
    } catch (e) {
      error = (e as Error).message;
    }
    const attempts = d.attempts + 1;
    if (!error) {
      await this.deliveries.delivered(id, attempts, statusCode, new Date());
      metrics().webhookDelivery('delivered');
      return;
    }
    const giveUp = attempts >= this.config.webhooks.maxAttempts;
    const backoffMs = Math.min(1_000 * 2 ** attempts, 3_600_000);
    await this.deliveries.attemptFailed(id, { giveUp, attempts, statusCode, error: error.slice(0, 500), nextAttemptAt: new Date(Date.now() + backoffMs) });
    metrics().webhookDelivery(giveUp ? 'gave-up' : 'retry');
    // Webhook URLs often carry a token in the path or query: log the origin only.
    this.logger.warn({ deliveryId: id, attempts, origin: new URL(d.url).origin }, `webhook delivery failed: ${error}${giveUp ? ' (giving up)' : ''}`);
  }
}
