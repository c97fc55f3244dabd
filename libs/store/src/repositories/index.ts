export * from './rotations.repository.js';
export * from './secrets.repository.js';
export * from './secret-versions.repository.js';
export * from './heartbeats.repository.js';
export * from './events.repository.js';
export * from './audit-events.repository.js';
export * from './webhook-deliveries.repository.js';
export * from './transactions.service.js';
