export * from './cluster-stats.repository.js';
export * from './ops-listener.js';
