import type { SecretType } from '@keyturn/contracts';

/** One encrypted field of a secret type, with the rule its value must meet on input. */
export interface SecretFieldDefinition {
  name: string;
  pattern: RegExp;
  /** The validation message when the value does not match (never echoes the value). */
  message: string;
  /** For the OpenAPI document. */
  description: string;
  example?: string;
}

/** One IAM policy statement, as `requiredPermissions` assembles it. */
export interface PolicyStatement {
  Sid: string;
  Effect: 'Allow';
  Action: string[];
  Resource: string;
}

/** The statement that lets the executor change a secret of this type, by mode. */
export interface ChangePermission {
  Sid: string;
  Action: string[];
}

/**
 * Everything Keyturn knows about one secret type, in one place. The registry
 * (registry.ts) holds one per `SecretType`, and the compiler refuses a type
 * without one; the API, the logger and the worker look things up here instead
 * of testing `type === …`.
 */
export interface SecretTypeDefinition {
  type: SecretType;
  /** PascalCase, for names derived from the type (OpenAPI schema names). */
  title: string;
  /** One line for the OpenAPI document. */
  summary: string;
  /** The encrypted fields, in the order they are shown. Their names are redacted in every log line. */
  fields: readonly SecretFieldDefinition[];
  /** Whether a heartbeat can check it; when not, its heartbeat status is `not-supported`. */
  canHeartbeat: boolean;
  /** Which secrets may make this type's IAM calls (the executor rule). */
  executor: {
    /** It can change itself with its own value, without a privileged account. */
    selfExecuting: boolean;
    /** Other secrets may name it as their privileged account (it holds credentials IAM accepts). */
    canExecuteOthers: boolean;
  };
  /** The least-privilege policy a change needs, by mode, and the type's optional extras. */
  permissions: {
    basic: ChangePermission;
    privileged: ChangePermission;
    /** Recommended beyond the common ones (GetUser, SimulatePrincipalPolicy). */
    recommended: readonly PolicyStatement[];
  };
}
