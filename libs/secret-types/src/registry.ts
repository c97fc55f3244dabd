import { SECRET_TYPES, SecretType } from '@keyturn/contracts';
import type { SecretTypeDefinition } from './secret-type-definition.js';
import { awsIamKey } from './aws-iam-key/aws-iam-key.definition.js';
import { awsIamConsolePassword } from './aws-iam-console-password/aws-iam-console-password.definition.js';

/**
 * One definition per secret type. A `Record` over the enum, so a type added to
 * `SecretType` without a definition here does not compile; `assertSecretTypesDefined`
 * checks the same at start-up for what the compiler cannot see (a definition
 * filed under the wrong key, a type added at run time).
 */
export const SECRET_TYPE_DEFINITIONS: Readonly<Record<SecretType, SecretTypeDefinition>> = {
  [SecretType.AwsIamKey]: awsIamKey,
  [SecretType.AwsIamConsolePassword]: awsIamConsolePassword,
};

/** The definition of `type`; an unknown type is a programming error (types come from the enum and the database). */
export function secretTypeDefinition(type: SecretType): SecretTypeDefinition {
  const def = (SECRET_TYPE_DEFINITIONS as Partial<Record<string, SecretTypeDefinition>>)[type];
  if (!def) throw new Error(`secret type "${type}" has no definition in libs/secret-types (SECRET_TYPE_DEFINITIONS)`);
  return def;
}

/** The definitions, in the order of `SECRET_TYPES`. */
export function secretTypeDefinitions(): SecretTypeDefinition[] {
  return SECRET_TYPES.map(secretTypeDefinition);
}

/**
 * Start-up check: every type in SECRET_TYPES has a definition filed under its
 * own name, with at least one field, and no field name is shared by two types
 * (the API tells types apart by their fields). Throws one message naming every problem.
 */
export function assertSecretTypesDefined(
  types: readonly string[] = SECRET_TYPES,
  definitions: Partial<Record<string, SecretTypeDefinition>> = SECRET_TYPE_DEFINITIONS,
): void {
  const problems: string[] = [];
  const owner = new Map<string, string>();
  for (const type of types) {
    const def = definitions[type];
    if (!def) {
      problems.push(`secret type "${type}" has no definition: add libs/secret-types/src/${type}/ and register it in SECRET_TYPE_DEFINITIONS`);
      continue;
    }
    if (def.type !== type) problems.push(`the definition registered for "${type}" describes "${def.type}"`);
    if (!def.fields.length) problems.push(`secret type "${type}" has no fields`);
    for (const f of def.fields) {
      const other = owner.get(f.name);
      if (other) problems.push(`field "${f.name}" belongs to both "${other}" and "${type}"`);
      owner.set(f.name, type);
    }
  }
  if (problems.length) {
    throw new Error(`Keyturn cannot start: ${problems.join('; ')}`);
  }
}

/** Every encrypted field name of every type: refused on a type that does not have it, redacted in logs. */
export function allSecretFieldNames(): string[] {
  return [...new Set(Object.values(SECRET_TYPE_DEFINITIONS).flatMap((d) => d.fields.map((f) => f.name)))];
}

/** The types whose definition meets `test`, e.g. those that heartbeat (for SQL: `type = ANY($1)` instead of a literal). */
export function secretTypesWhere(test: (def: SecretTypeDefinition) => boolean): SecretType[] {
  return secretTypeDefinitions().filter(test).map((d) => d.type);
}
