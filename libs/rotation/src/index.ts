export * from './rotation-error.js';
export * from './rotation.tokens.js';
export * from './key-rotation.usecase.js';
export * from './rotation-runner.js';
export * from './rotation.module.js';
export * from './password-change.usecase.js';
export * from './password-generator.js';
export * from './heartbeat.usecase.js';
export * from './events.js';
export * from './paced-iam.client.js';
export * from './scheduling/due-work.service.js';
export * from './scheduling/reconciler.service.js';
export * from './scheduling/webhook-dispatcher.service.js';
export * from './aws-budget.js';
// The API-side services moved to libs/secrets; the policy is re-exported for the tests and tools that build IAM users with it.
export { requiredPermissions, KEY_ACTIONS, type RequiredPermissions, type PolicyDocument, type PolicyStatement } from '@keyturn/secrets';
