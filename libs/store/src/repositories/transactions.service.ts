import type { DataSource, EntityManager } from 'typeorm';
import { AuditEventsRepository } from './audit-events.repository.js';
import { EventsRepository } from './events.repository.js';
import { HeartbeatsRepository } from './heartbeats.repository.js';
import { RotationsRepository } from './rotations.repository.js';
import { SecretVersionsRepository } from './secret-versions.repository.js';
import { SecretsRepository } from './secrets.repository.js';
import { WebhookDeliveriesRepository } from './webhook-deliveries.repository.js';

/** The repositories, all bound to one EntityManager (the pool's, or a transaction's). */
export interface Repositories {
  rotations: RotationsRepository;
  secrets: SecretsRepository;
  versions: SecretVersionsRepository;
  heartbeats: HeartbeatsRepository;
  events: EventsRepository;
  audit: AuditEventsRepository;
  deliveries: WebhookDeliveriesRepository;
}

export function repositoriesOf(m: EntityManager): Repositories {
  return {
    rotations: new RotationsRepository(m),
    secrets: new SecretsRepository(m),
    versions: new SecretVersionsRepository(m),
    heartbeats: new HeartbeatsRepository(m),
    events: new EventsRepository(m),
    audit: new AuditEventsRepository(m),
    deliveries: new WebhookDeliveriesRepository(m),
  };
}

/**
 * One transaction, as repositories: `run(async (tx) => …)` commits when the
 * function returns and rolls back when it throws. A use case sees the
 * repositories only, never the EntityManager.
 */
export class Transactions {
  constructor(private readonly ds: DataSource) {}

  run<T>(work: (tx: Repositories) => Promise<T>): Promise<T> {
    return this.ds.transaction((m) => work(repositoriesOf(m)));
  }
}
