export * from './secret-type-definition.js';
export * from './registry.js';
export * from './required-permissions.js';
export * from './secret-types.module.js';
export { KEY_ACTIONS } from './aws-iam-key/aws-iam-key.definition.js';
