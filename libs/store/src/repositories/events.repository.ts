import type { EntityManager } from 'typeorm';
import { namedSql, rowsOf } from '../returning.js';
import { uuidv7 } from '../uuid.js';

export type EventType = 'heartbeat.status-changed' | 'rotation.succeeded' | 'rotation.failed' | 'previous-key.retired' | 'discovery.completed';

// Constant statements (the deliveries' ids and URLs go as array parameters), prepared once per connection.
const EVENT_INSERT_SQL = namedSql('event_insert', `INSERT INTO events (id, type, secret_id, payload) VALUES ($1, $2, $3, $4)`);
const DELIVERIES_INSERT_SQL = namedSql(
  'webhook_deliveries_insert',
  `INSERT INTO webhook_deliveries (id, event_id, url, status, attempts, next_attempt_at)
         SELECT d.id, $1, d.url, 'pending', 0, $4 FROM unnest($2::uuid[], $3::text[]) AS d(id, url)`,
);

/**
 * The outbox: an event and one pending delivery per webhook URL. Used inside
 * the transaction of the change it announces, so both commit together.
 */
export class EventsRepository {
  constructor(private readonly m: EntityManager) {}

  /**
   * Hand-written INSERTs (rowsOf): nothing needs a row back, and TypeORM's insert built the statement anew
   * and asked for the defaults back every time. The deliveries, one per URL, are one statement.
   */
  async record(urls: string[], type: EventType, secretId: string | null, payload: Record<string, unknown>): Promise<string> {
    const id = uuidv7();
    await rowsOf(this.m, EVENT_INSERT_SQL, [id, type, secretId, JSON.stringify(payload)]);
    if (urls.length) {
      const ids = urls.map(() => uuidv7());
      await rowsOf(this.m, DELIVERIES_INSERT_SQL, [id, ids, urls, new Date()]);
    }
    return id;
  }
}
