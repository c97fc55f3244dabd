export * from './env.schema.js';
export * from './config.js';
export * from './config.module.js';
export * from './pool.js';
export * from './startup-errors.js';
export * from './setting-bounds.js';
