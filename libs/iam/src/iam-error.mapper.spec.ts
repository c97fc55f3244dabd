import { LimitExceededException, NoSuchEntityException } from '@aws-sdk/client-iam';
import { IamErrorCode } from '@keyturn/contracts';
import { IamError } from './iam-client.port.js';
import { maskAccessKeyId, scrubSecrets, toIamError } from './iam-error.mapper.js';

/** Shaped like the SDK's ServiceException for an awsQuery error: name from the model, Code from the XML. */
function awsError(code: string, opts: { status?: number; fault?: 'client' | 'server'; message?: string; name?: string; attempts?: number } = {}) {
  const err = new Error(opts.message ?? `${code} happened`) as Error & Record<string, unknown>;
  err.name = opts.name ?? code;
  err.Code = code;
  err.$fault = opts.fault ?? ((opts.status ?? 400) >= 500 ? 'server' : 'client');
  err.$metadata = { httpStatusCode: opts.status ?? 400, requestId: 'req-1', attempts: opts.attempts ?? 1 };
  return err;
}

/** Shaped like a Node socket error, as the SDK's http handler rejects with it. */
function nodeError(code: string, message = `connect ${code} 127.0.0.1:443`) {
  return Object.assign(new Error(message), { code, $metadata: { attempts: 5 } });
}

const ACTION = 'iam:CreateAccessKey';

describe('toIamError', () => {
  describe('access denied', () => {
    it.each(['AccessDenied', 'AccessDeniedException', 'UnauthorizedOperation'])('%s → IAM_ACCESS_DENIED', (code) => {
      const awsMessage =
        'User: arn:aws:iam::123456789012:user/bob is not authorized to perform: iam:CreateAccessKey on resource: user alice';
      const e = toIamError(awsError(code, { status: 403, message: awsMessage }), ACTION, { resource: 'user/alice' });
      expect(e).toBeInstanceOf(IamError);
      expect(e.code).toBe(IamErrorCode.AccessDenied);
      expect(e.message).toContain('missing permission iam:CreateAccessKey on user/alice: ');
      expect(e.message).toContain(awsMessage);
      expect(e.awsCode).toBe(code);
      expect(e.action).toBe(ACTION);
      expect(e.retryable).toBe(false);
    });

    it('GetAccessKeyLastUsed of a key IAM cannot find (AccessDenied naming the key) → IAM_NO_SUCH_ENTITY no-such-access-key, the key id masked', () => {
      const gone = toIamError(
        awsError('AccessDenied', {
          status: 403,
          message: 'User: arn:aws:iam::123456789012:user/bob is not authorized to perform: iam:GetAccessKeyLastUsed on resource: access key AKIAGONEGONEGONE0001',
        }),
        'iam:GetAccessKeyLastUsed',
        { accessKeyIds: ['AKIAGONEGONEGONE0001'] },
      );
      expect(gone.code).toBe(IamErrorCode.NoSuchEntity);
      expect(gone.reason).toBe('no-such-access-key');
      expect(gone.awsCode).toBe('AccessDenied');
      expect(gone.action).toBe('iam:GetAccessKeyLastUsed');
      expect(gone.message).not.toContain('AKIAGONEGONEGONE0001');
      // Denied on the owner: a missing permission, as for any other call.
      const denied = toIamError(
        awsError('AccessDenied', { status: 403, message: 'User: arn:aws:iam::123456789012:user/bob is not authorized to perform: iam:GetAccessKeyLastUsed on resource: user alice' }),
        'iam:GetAccessKeyLastUsed',
      );
      expect(denied.code).toBe(IamErrorCode.AccessDenied);
    });

    it('omits the resource when none is known', () => {
      const e = toIamError(awsError('AccessDenied', { status: 403, message: 'nope' }), 'iam:GetAccountPasswordPolicy');
      expect(e.message).toMatch(/^missing permission iam:GetAccountPasswordPolicy: nope/);
    });
  });

  it('LimitExceeded → IAM_KEY_LIMIT, not retryable', () => {
    const e = toIamError(awsError('LimitExceeded', { status: 409, name: 'LimitExceededException', message: 'Cannot exceed quota for AccessKeysPerUser: 2' }), ACTION, {
      resource: 'user/alice',
    });
    expect(e.code).toBe(IamErrorCode.KeyLimit);
    expect(e.awsCode).toBe('LimitExceeded');
    expect(e.retryable).toBe(false);
    expect(e.message).toContain('Cannot exceed quota for AccessKeysPerUser: 2');
    expect(e.message).toContain('at most 2 access keys');
  });

  it('NoSuchEntity (SDK name NoSuchEntityException) → IAM_NO_SUCH_ENTITY with AWS code', () => {
    const e = toIamError(
      awsError('NoSuchEntity', { status: 404, name: 'NoSuchEntityException', message: 'The user with name alice cannot be found.' }),
      'iam:ListAccessKeys',
      { resource: 'user/alice' },
    );
    expect(e.code).toBe(IamErrorCode.NoSuchEntity);
    expect(e.awsCode).toBe('NoSuchEntity');
    expect(e.message).toContain('The user with name alice cannot be found.');
  });

  it('maps the real SDK exception classes too', () => {
    const noSuch = new NoSuchEntityException({ message: 'gone', $metadata: { httpStatusCode: 404 } });
    expect(toIamError(noSuch, 'iam:GetUser').code).toBe(IamErrorCode.NoSuchEntity);
    const limit = new LimitExceededException({ message: 'quota', $metadata: { httpStatusCode: 409 } });
    expect(toIamError(limit, ACTION).code).toBe(IamErrorCode.KeyLimit);
  });

  it.each([
    'InvalidClientTokenId',
    'SignatureDoesNotMatch',
    'InvalidAccessKeyId',
    'IncompleteSignature',
    'MissingAuthenticationToken',
    'ExpiredToken',
  ])('%s → IAM_INVALID_CREDENTIALS', (code) => {
    const e = toIamError(awsError(code, { status: 403 }), 'sts:GetCallerIdentity');
    expect(e.code).toBe(IamErrorCode.InvalidCredentials);
    expect(e.awsCode).toBe(code);
    expect(e.retryable).toBe(false);
    expect(e.message).toContain(code);
  });

  it.each([
    ['Throttling', 400],
    ['ThrottlingException', 400],
    ['RequestLimitExceeded', 503],
    ['TooManyRequestsException', 429],
  ])('%s → IAM_THROTTLED, retryable', (code, status) => {
    const e = toIamError(awsError(code, { status, attempts: 5 }), ACTION);
    expect(e.code).toBe(IamErrorCode.Throttled);
    expect(e.retryable).toBe(true);
    expect(e.awsCode).toBe(code);
    expect(e.message).toContain('after 5 attempts');
  });

  it('a bare HTTP 429 → IAM_THROTTLED', () => {
    const e = toIamError(awsError('Unknown', { status: 429, message: 'slow down' }), ACTION);
    expect(e.code).toBe(IamErrorCode.Throttled);
    expect(e.retryable).toBe(true);
  });

  describe('network and service failures → IAM_UNREACHABLE, retryable', () => {
    it.each(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'ENOTFOUND', 'EAI_AGAIN'])('Node %s', (code) => {
      const e = toIamError(nodeError(code), 'sts:GetCallerIdentity');
      expect(e.code).toBe(IamErrorCode.Unreachable);
      expect(e.retryable).toBe(true);
      expect(e.awsCode).toBeUndefined();
      expect(e.message).toContain(code);
      expect(e.message).toContain('after 5 attempts');
    });

    it('socket hang up', () => {
      const e = toIamError(Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }), ACTION);
      expect(e.code).toBe(IamErrorCode.Unreachable);
      const noCode = toIamError(new Error('socket hang up'), ACTION);
      expect(noCode.code).toBe(IamErrorCode.Unreachable);
    });

    it('a socket error the SDK re-wrapped without its code', () => {
      const err = new Error('AWS SDK error wrapper for Error: connect ECONNREFUSED 127.0.0.1:443');
      const e = toIamError(err, ACTION);
      expect(e.code).toBe(IamErrorCode.Unreachable);
      expect(e.message).toContain('ECONNREFUSED');
    });

    it('does not read network codes out of an AWS answer', () => {
      const e = toIamError(awsError('InvalidInput', { status: 400, message: 'name ECONNRESET is odd' }), ACTION);
      expect(e.code).toBe(IamErrorCode.Unexpected);
    });

    it('the SDK http handler TimeoutError', () => {
      const err = Object.assign(new Error('the request socket timed out after 100 ms'), { name: 'TimeoutError' });
      expect(toIamError(err, ACTION).code).toBe(IamErrorCode.Unreachable);
    });

    it('a socket error wrapped as a cause', () => {
      const err = new TypeError('fetch failed', { cause: Object.assign(new Error('connect'), { code: 'ECONNREFUSED' }) });
      expect(toIamError(err, ACTION).code).toBe(IamErrorCode.Unreachable);
    });

    it.each([
      ['RequestTimeout', 408],
      ['ServiceUnavailable', 503],
      ['InternalFailure', 500],
      ['ServiceFailure', 500],
      ['SomethingNew', 502],
    ])('AWS %s (HTTP %i)', (code, status) => {
      const e = toIamError(awsError(code, { status }), ACTION);
      expect(e.code).toBe(IamErrorCode.Unreachable);
      expect(e.retryable).toBe(true);
      expect(e.awsCode).toBe(code);
    });
  });

  it('PasswordPolicyViolation → IAM_PASSWORD_POLICY', () => {
    const e = toIamError(
      awsError('PasswordPolicyViolation', { status: 400, name: 'PasswordPolicyViolationException', message: 'Password should have at least one symbol' }),
      'iam:UpdateLoginProfile',
      { resource: 'user/alice' },
    );
    expect(e.code).toBe(IamErrorCode.PasswordPolicy);
    expect(e.message).toContain('Password should have at least one symbol');
    expect(e.retryable).toBe(false);
  });

  it('EntityTemporarilyUnmodifiable is retryable', () => {
    const e = toIamError(awsError('EntityTemporarilyUnmodifiable', { status: 409 }), 'iam:DeleteAccessKey');
    expect(e.retryable).toBe(true);
    expect(e.awsCode).toBe('EntityTemporarilyUnmodifiable');
    expect(e.code).toBe(IamErrorCode.Unexpected);
  });

  it('anything else → IAM_UNEXPECTED naming AWS code', () => {
    const e = toIamError(awsError('InvalidInput', { status: 400, message: 'bad user name' }), ACTION, { resource: 'user/x' });
    expect(e.code).toBe(IamErrorCode.Unexpected);
    expect(e.awsCode).toBe('InvalidInput');
    expect(e.message).toContain('InvalidInput');
    expect(e.message).toContain('bad user name');
    expect(e.retryable).toBe(false);
  });

  it('a local non-AWS failure → IAM_UNEXPECTED without awsCode', () => {
    const e = toIamError(new RangeError('boom'), ACTION);
    expect(e.code).toBe(IamErrorCode.Unexpected);
    expect(e.awsCode).toBeUndefined();
    expect(e.message).toContain('before AWS answered');
    expect(toIamError('weird', ACTION).code).toBe(IamErrorCode.Unexpected);
    expect(toIamError(undefined, ACTION).code).toBe(IamErrorCode.Unexpected);
  });

  it('passes an IamError through, scrubbed with the new context', () => {
    const original = new IamError(IamErrorCode.KeyLimit, { action: ACTION, awsMessage: 'key AKIAIOSFODNN7EXAMPLE of Tr0ub4dor&3-horse' }, { awsCode: 'LimitExceeded' });
    const e = toIamError(original, 'other', { secrets: ['Tr0ub4dor&3-horse'] });
    expect(e.code).toBe(IamErrorCode.KeyLimit);
    expect(e.action).toBe(ACTION);
    expect(e.awsCode).toBe('LimitExceeded');
    expect(e.message).toContain('key AKIA…MPLE of [redacted]');
    expect(e.message).not.toContain('AKIAIOSFODNN7EXAMPLE');
    expect(e.message).not.toContain('Tr0ub4dor');
  });

  describe('never leaks key material', () => {
    const secret = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY';
    const password = 'Tr0ub4dor&3-horse';

    it('masks access key ids that an SDK error message might carry', () => {
      const e = toIamError(
        awsError('InvalidInput', { message: 'The access key AKIAIOSFODNN7EXAMPLE and ASIAY34FZKBOKMUTVV7A are bad' }),
        ACTION,
      );
      expect(e.message).not.toContain('AKIAIOSFODNN7EXAMPLE');
      expect(e.message).not.toContain('ASIAY34FZKBOKMUTVV7A');
      expect(e.message).toContain('AKIA…MPLE');
      expect(e.message).toContain('ASIA…VV7A');
    });

    it('removes known secrets, passwords and caller key ids', () => {
      const e = toIamError(
        awsError('InvalidInput', { message: `echo ${secret} ${password} KT00CUSTOMKEYID12345` }),
        'iam:ChangePassword',
        { secrets: [secret, password], accessKeyIds: ['KT00CUSTOMKEYID12345'] },
      );
      expect(e.message).not.toContain(secret);
      expect(e.message).not.toContain(password);
      expect(e.message).not.toContain('KT00CUSTOMKEYID12345');
      expect(e.message).toContain('[redacted]');
      expect(e.message).toContain('KT00…2345');
    });

    it('removes secret-shaped tokens even when the secret is not known', () => {
      const e = toIamError(awsError('InvalidInput', { message: `saw ${secret} in the body` }), ACTION);
      expect(e.message).not.toContain(secret);
    });

    it('keeps ARNs and AWS text intact', () => {
      const msg = 'User: arn:aws:iam::123456789012:user/division_abc/subdivision_xyz/Bob is not authorized';
      expect(scrubSecrets(msg)).toBe(msg);
    });

    it('bounds the message length', () => {
      const e = toIamError(awsError('InvalidInput', { message: 'x'.repeat(10_000) }), ACTION);
      expect(e.message.length).toBeLessThanOrEqual(1001);
    });
  });
});

describe('maskAccessKeyId', () => {
  it('keeps the prefix and the last 4', () => {
    expect(maskAccessKeyId('AKIAIOSFODNN7EXAMPLE')).toBe('AKIA…MPLE');
    expect(maskAccessKeyId('ASIAY34FZKBOKMUTVV7A')).toBe('ASIA…VV7A');
  });

  it('reveals nothing of a short value', () => {
    expect(maskAccessKeyId('AKIA1234')).toBe('…');
    expect(maskAccessKeyId('')).toBe('…');
  });
});

describe('toIamError sub-codes (reason): decided here, so use cases never read AWS text', () => {
  const noSuch = (message: string) => awsError('NoSuchEntity', { status: 404, name: 'NoSuchEntityException', message });

  it.each([
    ['iam:DeleteAccessKey', 'The Access Key with id AKIAIOSFODNN7EXAMPLE cannot be found.', 'no-such-access-key'],
    ['iam:UpdateAccessKey', 'The Access Key with id AKIAIOSFODNN7EXAMPLE cannot be found.', 'no-such-access-key'],
    ['iam:DeleteAccessKey', 'The user with name alice cannot be found.', 'no-such-user'],
    ['iam:UpdateAccessKey', 'The user with name alice cannot be found.', 'no-such-user'],
    // AWS's text names neither: the key is what the call is about, so it is the key that is gone (as before).
    ['iam:DeleteAccessKey', 'cannot be found', 'no-such-access-key'],
    ['iam:UpdateLoginProfile', 'Login Profile for User alice cannot be found.', 'no-such-login-profile'],
    ['iam:ChangePassword', 'Login Profile for User alice cannot be found.', 'no-such-login-profile'],
    ['iam:GetLoginProfile', 'Login Profile for User alice cannot be found.', 'no-such-login-profile'],
    ['iam:UpdateLoginProfile', 'The user with name alice cannot be found.', 'no-such-user'],
    ['iam:GetUser', 'The user with name alice cannot be found.', 'no-such-user'],
    ['iam:ListAccessKeys', 'The user with name alice cannot be found.', 'no-such-user'],
    ['iam:CreateAccessKey', 'The user with name alice cannot be found.', 'no-such-user'],
    ['iam:GetAccountPasswordPolicy', 'The Password Policy with domain name 123456789012 cannot be found.', 'no-password-policy'],
  ])('%s answering NoSuchEntity "%s" → IAM_NO_SUCH_ENTITY, reason %s', (action, message, reason) => {
    const e = toIamError(noSuch(message), action);
    expect(e.code).toBe(IamErrorCode.NoSuchEntity);
    expect(e.reason).toBe(reason);
    expect(e.retryable).toBe(false);
  });

  it('a wrong old password on iam:ChangePassword (AWS answers InvalidUserType) → reason wrong-old-password, code unchanged', () => {
    const e = toIamError(awsError('InvalidUserType', { status: 400, name: 'InvalidUserTypeException', message: 'The old password was incorrect.' }), 'iam:ChangePassword');
    expect(e.code).toBe(IamErrorCode.Unexpected);
    expect(e.reason).toBe('wrong-old-password');
    expect(e.retryable).toBe(false);
  });

  it('any answer to iam:ChangePassword that says the old password is incorrect → wrong-old-password', () => {
    const e = toIamError(awsError('AccessDenied', { status: 403, message: 'The incorrect password was supplied' }), 'iam:ChangePassword');
    expect(e.code).toBe(IamErrorCode.AccessDenied);
    expect(e.reason).toBe('wrong-old-password');
  });

  it('the same text on another action is no wrong old password', () => {
    expect(toIamError(awsError('InvalidUserType', { message: 'The old password was incorrect.' }), 'iam:UpdateLoginProfile').reason).toBeUndefined();
  });

  it.each(['EntityTemporarilyUnmodifiable', 'ConcurrentModification'])('%s → IAM_UNEXPECTED, reason entity-busy, retryable', (code) => {
    const e = toIamError(awsError(code, { status: 409 }), 'iam:DeleteAccessKey');
    expect(e.code).toBe(IamErrorCode.Unexpected);
    expect(e.reason).toBe('entity-busy');
    expect(e.retryable).toBe(true);
  });

  it('other answers have no sub-code', () => {
    expect(toIamError(awsError('AccessDenied', { status: 403 }), ACTION).reason).toBeUndefined();
    expect(toIamError(awsError('InvalidInput', { status: 400 }), ACTION).reason).toBeUndefined();
  });

  it('keeps the sub-code when an IamError passes through again', () => {
    const e = toIamError(noSuch('The Access Key with id AKIAIOSFODNN7EXAMPLE cannot be found.'), 'iam:DeleteAccessKey');
    expect(toIamError(e, 'other').reason).toBe('no-such-access-key');
  });

  it('keeps key material out of the parameters the message was made from', () => {
    const secret = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY';
    const e = toIamError(awsError('InvalidInput', { message: `echo ${secret} AKIAIOSFODNN7EXAMPLE` }), ACTION, { secrets: [secret] });
    expect(JSON.stringify(e.params)).not.toContain(secret);
    expect(JSON.stringify(e.params)).not.toContain('AKIAIOSFODNN7EXAMPLE');
  });
});
