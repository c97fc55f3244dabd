export * from './redis.js';
export * from './queue.module.js';
