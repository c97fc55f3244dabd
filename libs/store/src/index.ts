export * from './entities/secret.entity.js';
export * from './entities/secret-version.entity.js';
export * from './entities/setting.entity.js';
export * from './entities/api-key.entity.js';
export * from './entities/audit-event.entity.js';
export { dataSourceOptions, ENTITIES, MIGRATIONS } from './data-source.js';
export * from './database.js';
export * from './uuid.js';
export * from './store.module.js';
