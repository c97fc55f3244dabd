import { IamErrorCode } from '@keyturn/contracts';
import { IamError } from '@keyturn/iam';
import { isWrongOldPassword } from './password-change.usecase.js';

describe('isWrongOldPassword', () => {
  it('follows the sub-code the IAM mapper set', () => {
    expect(isWrongOldPassword(new IamError(IamErrorCode.Unexpected, { kind: 'aws', action: 'iam:ChangePassword', awsCode: 'InvalidUserType' }, { awsCode: 'InvalidUserType', reason: 'wrong-old-password' }))).toBe(true);
  });

  it('reads no AWS text: an error without that sub-code is something else, whatever its message says', () => {
    const e = new IamError(IamErrorCode.Unexpected, { kind: 'aws', action: 'iam:ChangePassword', awsCode: 'InvalidInput', awsMessage: 'The old password was incorrect.' });
    expect(e.message).toContain('old password');
    expect(isWrongOldPassword(e)).toBe(false);
    expect(isWrongOldPassword(new IamError(IamErrorCode.NoSuchEntity, { action: 'iam:ChangePassword' }, { reason: 'no-such-login-profile' }))).toBe(false);
    expect(isWrongOldPassword(new Error('The old password was incorrect.'))).toBe(false);
  });
});
