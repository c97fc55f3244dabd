export * from './redis.js';
export * from './queue.module.js';
export * from './job-producer.js';
export * from './account-pacer.js';
export * from './fair-share.js';
export * from './redis-probe.js';
