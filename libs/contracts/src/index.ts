export * from './queues.js';
export * from './secret-types.js';
export * from './errors/index.js';
export * from './actor.js';
export * from './validation.js';
export * from './settings.js';
export * from './schedule.js';
