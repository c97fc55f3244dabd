import { ErrorCode, SecretType } from '@keyturn/contracts';
import { secretFieldsOf } from './secret-fields.js';
import { mergeSettings } from './secret-settings.js';

const codeOf = (f: () => unknown) => {
  try {
    f();
    return 'ok';
  } catch (e) {
    return (e as { code?: string; params?: unknown }).code;
  }
};

describe('secretFieldsOf', () => {
  it('takes exactly the type’s fields', () => {
    expect(secretFieldsOf(SecretType.AwsIamKey, { name: 'n', accessKeyId: 'AKIA1', secretAccessKey: 's' })).toEqual({ accessKeyId: 'AKIA1', secretAccessKey: 's' });
    expect(secretFieldsOf(SecretType.AwsIamConsolePassword, { password: 'p' })).toEqual({ password: 'p' });
  });

  it('refuses another type’s field by name, and a missing or empty field', () => {
    expect(codeOf(() => secretFieldsOf(SecretType.AwsIamKey, { accessKeyId: 'a', secretAccessKey: 's', password: 'p' }))).toBe(ErrorCode.FIELD_NOT_ALLOWED);
    expect(codeOf(() => secretFieldsOf(SecretType.AwsIamConsolePassword, { password: 'p', accessKeyId: 'a' }))).toBe(ErrorCode.FIELD_NOT_ALLOWED);
    expect(codeOf(() => secretFieldsOf(SecretType.AwsIamKey, { accessKeyId: 'a' }))).toBe(ErrorCode.VALIDATION_FAILED);
    expect(codeOf(() => secretFieldsOf(SecretType.AwsIamConsolePassword, { password: '' }))).toBe(ErrorCode.VALIDATION_FAILED);
  });
});

describe('mergeSettings', () => {
  it('null removes an override, undefined keeps it, a value sets it', () => {
    expect(mergeSettings({ passwordLength: 40, autoChangeIntervalDays: 30 }, { passwordLength: null, autoChangeIntervalDays: undefined, shouldDeletePreviousKey: true })).toEqual({
      autoChangeIntervalDays: 30,
      shouldDeletePreviousKey: true,
    });
  });
});
