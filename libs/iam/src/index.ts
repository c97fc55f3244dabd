export * from './iam-client.port.js';
export * from './arn.js';
export { maskAccessKeyId, scrubSecrets, toIamError, type IamErrorContext } from './iam-error.mapper.js';
export { AwsIamClient, sdkCallBudgetMs, type AwsIamClientOptions } from './aws-iam.adapter.js';
export { IamModule, type IamClientDecorator, type IamModuleAsyncOptions } from './iam.module.js';
