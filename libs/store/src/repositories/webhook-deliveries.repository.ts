import type { EntityManager } from 'typeorm';
import { EventEntity, WebhookDeliveryEntity } from '../entities/event.entity.js';
import { queryReturning } from '../returning.js';

/** The outbox's deliveries, as the scheduler's webhook dispatcher works through them. */
export class WebhookDeliveriesRepository {
  constructor(private readonly m: EntityManager) {}

  /** Claims due deliveries by pushing their due time a minute ahead, so another replica does not send them too. */
  claimDue(limit: number): Promise<{ id: string }[]> {
    return queryReturning<{ id: string }>(
      this.m,
      `UPDATE webhook_deliveries d SET next_attempt_at = now() + interval '1 minute'
         FROM (SELECT id FROM webhook_deliveries WHERE status = 'pending' AND next_attempt_at <= now()
                ORDER BY next_attempt_at LIMIT $1 FOR UPDATE SKIP LOCKED) due
        WHERE d.id = due.id RETURNING d.id`,
      [limit],
    );
  }

  getOrFail(id: string): Promise<WebhookDeliveryEntity> {
    return this.m.findOneByOrFail(WebhookDeliveryEntity, { id });
  }

  event(id: string): Promise<EventEntity | null> {
    return this.m.findOneBy(EventEntity, { id });
  }

  async delivered(id: string, attempts: number, statusCode: number | null, at: Date): Promise<void> {
    await this.m.update(WebhookDeliveryEntity, { id }, { status: 'delivered', attempts, lastStatusCode: statusCode, lastError: null, deliveredAt: at });
  }

  /** A failed attempt: pending again at `nextAttemptAt`, or failed for good. */
  async attemptFailed(id: string, r: { giveUp: boolean; attempts: number; statusCode: number | null; error: string; nextAttemptAt: Date }): Promise<void> {
    await this.m.update(WebhookDeliveryEntity, { id }, {
      status: r.giveUp ? 'failed' : 'pending',
      attempts: r.attempts,
      lastStatusCode: r.statusCode,
      lastError: r.error,
      nextAttemptAt: r.nextAttemptAt,
    });
  }
}
