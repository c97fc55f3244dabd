export * from './queues.js';
export * from './secret-types.js';
export * from './error-codes.js';
export * from './errors.js';
export * from './actor.js';
export * from './validation.js';
