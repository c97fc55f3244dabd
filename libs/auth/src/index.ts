export * from './roles.js';
export * from './tokens.js';
export * from './api-keys.service.js';
export * from './audit.service.js';
export * from './auth-limiter.js';
export * from './auth.module.js';
export * from './key-limits.js';
