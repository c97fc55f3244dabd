import { ErrorCode, KeyturnError, type SecretType } from '@keyturn/contracts';
import { allSecretFieldNames, secretTypeDefinition } from '@keyturn/secret-types';

/**
 * The encrypted fields of a new secret of `type`, taken from `input`: each of
 * the type's fields is required, and another type's field is refused by name.
 */
export function secretFieldsOf(type: SecretType, input: Record<string, unknown>): Record<string, string> {
  const wanted = secretTypeDefinition(type).fields.map((f) => f.name);
  for (const f of allSecretFieldNames()) {
    if (!wanted.includes(f) && input[f] !== undefined) {
      throw new KeyturnError(ErrorCode.FIELD_NOT_ALLOWED, { field: f, secretType: type });
    }
  }
  const out: Record<string, string> = {};
  for (const f of wanted) {
    const v = input[f];
    if (typeof v !== 'string' || !v) {
      throw new KeyturnError(ErrorCode.VALIDATION_FAILED, { kind: 'required-field', field: f, secretType: type });
    }
    out[f] = v;
  }
  return out;
}
