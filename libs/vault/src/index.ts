export * from './settings.js';
export * from './settings.service.js';
export * from './version-cipher.js';
export * from './secret-fields.js';
export * from './master-key.js';
export * from './vault.module.js';
export * from './rewrap.js';
export * from './key-check.js';
