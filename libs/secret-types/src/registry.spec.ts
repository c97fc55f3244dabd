import { SECRET_TYPES, SecretType } from '@keyturn/contracts';
import { SECRET_TYPE_DEFINITIONS, allSecretFieldNames, assertSecretTypesDefined, secretTypeDefinition, secretTypesWhere } from './registry.js';
import { changeStatements } from './required-permissions.js';

describe('secret type registry', () => {
  it('has one definition per SecretType, filed under its own name', () => {
    expect(Object.keys(SECRET_TYPE_DEFINITIONS).sort()).toEqual([...SECRET_TYPES].sort());
    for (const type of SECRET_TYPES) expect(secretTypeDefinition(type).type).toBe(type);
    expect(() => assertSecretTypesDefined()).not.toThrow();
  });

  it('the start-up check names a type without a definition, and what to add', () => {
    expect(() => assertSecretTypesDefined([...SECRET_TYPES, 'gcp-service-account'])).toThrow(
      /secret type "gcp-service-account" has no definition: add libs\/secret-types\/src\/gcp-service-account\//,
    );
  });

  it('the start-up check refuses a definition filed under another type, and a field shared by two types', () => {
    const key = SECRET_TYPE_DEFINITIONS[SecretType.AwsIamKey];
    expect(() => assertSecretTypesDefined(['a', 'b'], { a: key, b: { ...key, type: 'b' as SecretType } })).toThrow(
      /the definition registered for "a" describes "aws-iam-key".*field "accessKeyId" belongs to both "a" and "b"/,
    );
  });

  it('an unknown type is a programming error naming the registry', () => {
    expect(() => secretTypeDefinition('nope' as SecretType)).toThrow(/SECRET_TYPE_DEFINITIONS/);
  });

  it('lists every secret field of every type once (what the API refuses on another type, and the logger redacts)', () => {
    expect(allSecretFieldNames()).toEqual(['accessKeyId', 'secretAccessKey', 'password']);
  });

  it('each field has a rule that accepts a good value and refuses a bad one', () => {
    const good: Record<string, string> = { accessKeyId: 'AKIAIOSFODNN7EXAMPLE', secretAccessKey: 'a'.repeat(40), password: 'Correct horse 1' };
    for (const def of Object.values(SECRET_TYPE_DEFINITIONS)) {
      for (const f of def.fields) {
        expect(f.pattern.test(good[f.name])).toBe(true);
        expect(f.pattern.test('\u{1F600}'.repeat(200))).toBe(false);
        expect(f.message).toMatch(new RegExp(`^${f.name} must`));
      }
    }
  });

  it('executor rules: a key changes itself and others; a console password needs a privileged account', () => {
    expect(SECRET_TYPE_DEFINITIONS[SecretType.AwsIamKey].executor).toEqual({ selfExecuting: true, canExecuteOthers: true });
    expect(SECRET_TYPE_DEFINITIONS[SecretType.AwsIamConsolePassword].executor).toEqual({ selfExecuting: false, canExecuteOthers: false });
    expect(SECRET_TYPE_DEFINITIONS[SecretType.AwsIamKey].canHeartbeat).toBe(true);
    expect(SECRET_TYPE_DEFINITIONS[SecretType.AwsIamConsolePassword].canHeartbeat).toBe(false);
    expect(secretTypesWhere((d) => d.canHeartbeat)).toEqual([SecretType.AwsIamKey]);
    expect(secretTypesWhere((d) => !d.executor.selfExecuting)).toEqual([SecretType.AwsIamConsolePassword]);
  });

  it('change statements: the type’s action for the mode on the target, then the common and the type’s recommended ones', () => {
    const arns = { target: 'arn:aws:iam::1:user/t', executorSelf: 'arn:aws:iam::1:user/${aws:username}' };
    const r = changeStatements(SECRET_TYPE_DEFINITIONS[SecretType.AwsIamConsolePassword], 'privileged', arns);
    expect(r.statement).toEqual({ Sid: 'KeyturnSetUserPassword', Effect: 'Allow', Action: ['iam:UpdateLoginProfile'], Resource: arns.target });
    expect(r.recommended.map((s) => s.Sid)).toEqual(['KeyturnCheckUserId', 'KeyturnPreflight', 'KeyturnReadPasswordPolicy']);
    // The definition's arrays are never handed out to be mutated.
    r.statement.Action.push('iam:*');
    expect(SECRET_TYPE_DEFINITIONS[SecretType.AwsIamConsolePassword].permissions.privileged.Action).toEqual(['iam:UpdateLoginProfile']);
  });
});
