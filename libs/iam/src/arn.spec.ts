import { listUsersResource, parseArn, partitionForRegion, userArn, userNameFromArn, usersArnPattern } from './arn.js';

describe('partitionForRegion', () => {
  it.each([
    ['us-east-1', 'aws'],
    ['eu-west-3', 'aws'],
    ['cn-north-1', 'aws-cn'],
    ['cn-northwest-1', 'aws-cn'],
    ['us-gov-west-1', 'aws-us-gov'],
    ['US-GOV-EAST-1', 'aws-us-gov'],
  ])('%s → %s', (region, partition) => {
    expect(partitionForRegion(region)).toBe(partition);
  });
});

describe('userArn', () => {
  it('builds a root-path user ARN', () => {
    expect(userArn('aws', '123456789012', 'alice')).toBe('arn:aws:iam::123456789012:user/alice');
  });

  it('uses the partition', () => {
    expect(userArn('aws-cn', '123456789012', 'alice')).toBe('arn:aws-cn:iam::123456789012:user/alice');
    expect(userArn('aws-us-gov', '123456789012', 'bob')).toBe('arn:aws-us-gov:iam::123456789012:user/bob');
  });

  it('normalises the path to start and end with a slash', () => {
    expect(userArn('aws', '123456789012', 'alice', '/ci/bots/')).toBe('arn:aws:iam::123456789012:user/ci/bots/alice');
    expect(userArn('aws', '123456789012', 'alice', 'ci/bots')).toBe('arn:aws:iam::123456789012:user/ci/bots/alice');
    expect(userArn('aws', '123456789012', 'alice', '')).toBe('arn:aws:iam::123456789012:user/alice');
  });
});

describe('parseArn', () => {
  it('splits the six parts', () => {
    expect(parseArn('arn:aws:iam::123456789012:user/ci/alice')).toEqual({
      partition: 'aws',
      service: 'iam',
      region: '',
      accountId: '123456789012',
      resource: 'user/ci/alice',
    });
  });

  it('keeps colons inside the resource', () => {
    expect(parseArn('arn:aws:logs:us-east-1:123456789012:log-group:my-group:*')?.resource).toBe(
      'log-group:my-group:*',
    );
  });

  it.each(['', 'not-an-arn', 'arn:aws:iam', 'arn::iam::123456789012:user/a', 'arn:aws:iam::123456789012:', 'urn:aws:iam::1:user/a'])(
    'rejects %p',
    (bad) => {
      expect(parseArn(bad)).toBeNull();
    },
  );
});

describe('userNameFromArn', () => {
  it('reads a root-path user', () => {
    expect(userNameFromArn('arn:aws:iam::123456789012:user/alice')).toBe('alice');
  });

  it('is path-aware', () => {
    expect(userNameFromArn('arn:aws:iam::123456789012:user/division/team/alice')).toBe('alice');
  });

  it('works in other partitions', () => {
    expect(userNameFromArn('arn:aws-cn:iam::123456789012:user/bob')).toBe('bob');
    expect(userNameFromArn('arn:aws-us-gov:iam::123456789012:user/ops/carol')).toBe('carol');
  });

  it.each([
    ['root', 'arn:aws:iam::123456789012:root'],
    ['a role', 'arn:aws:iam::123456789012:role/deployer'],
    ['an STS assumed role', 'arn:aws:sts::123456789012:assumed-role/deployer/session-1'],
    ['an STS federated user', 'arn:aws:sts::123456789012:federated-user/alice'],
    ['garbage', 'user/alice'],
    ['a user ARN without a name', 'arn:aws:iam::123456789012:user/'],
  ])('is null for %s', (_what, arn) => {
    expect(userNameFromArn(arn)).toBeNull();
  });
});

describe('the users under an IAM path (discovery path prefixes)', () => {
  it('names the users under a prefix, and the resource ListUsers is checked against, which that pattern matches', () => {
    expect(usersArnPattern('aws', '123456789012')).toBe('arn:aws:iam::123456789012:user/*');
    expect(usersArnPattern('aws-cn', '123456789012', '/eng/')).toBe('arn:aws-cn:iam::123456789012:user/eng/*');
    expect(listUsersResource('aws', '123456789012')).toBe('arn:aws:iam::123456789012:user/');
    expect(listUsersResource('aws-us-gov', '123456789012', '/eng/')).toBe('arn:aws-us-gov:iam::123456789012:user/eng/');
  });
});
