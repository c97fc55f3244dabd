import { discoveryPermissions, discoverySimulation } from './discovery-permissions.js';

describe('discovery permissions', () => {
  it('the whole account: the four discovery calls on every user, SimulatePrincipalPolicy on itself recommended', () => {
    const r = discoveryPermissions({ partition: 'aws', accountId: '123456789012', executorUser: 'scanner' });
    expect(r).toEqual({
      executorUser: 'scanner',
      accountId: '123456789012',
      pathPrefix: '/',
      policy: {
        Version: '2012-10-17',
        Statement: [
          {
            Sid: 'KeyturnDiscovery',
            Effect: 'Allow',
            Action: ['iam:ListUsers', 'iam:ListAccessKeys', 'iam:GetAccessKeyLastUsed', 'iam:GetLoginProfile'],
            Resource: 'arn:aws:iam::123456789012:user/*',
          },
        ],
      },
      recommended: {
        Version: '2012-10-17',
        Statement: [{ Sid: 'KeyturnPreflight', Effect: 'Allow', Action: ['iam:SimulatePrincipalPolicy'], Resource: 'arn:aws:iam::123456789012:user/${aws:username}' }],
      },
      requiredActions: ['iam:ListUsers', 'iam:ListAccessKeys'],
      optionalActions: ['iam:GetAccessKeyLastUsed', 'iam:GetLoginProfile'],
    });
  });

  it('a path prefix narrows the resource; the partition follows the account', () => {
    const r = discoveryPermissions({ partition: 'aws-cn', accountId: '123456789012', executorUser: 'scanner', pathPrefix: '/eng/' });
    expect(r.pathPrefix).toBe('/eng/');
    expect(r.policy.Statement[0]!.Resource).toBe('arn:aws-cn:iam::123456789012:user/eng/*');
  });

  it('simulates ListUsers on the prefix ARN IAM checks it against, the per-user calls on every user under it', () => {
    expect(discoverySimulation('aws', '123456789012', '/eng/')).toEqual([
      { action: 'iam:ListUsers', resource: 'arn:aws:iam::123456789012:user/eng/' },
      { action: 'iam:ListAccessKeys', resource: 'arn:aws:iam::123456789012:user/eng/*' },
      { action: 'iam:GetAccessKeyLastUsed', resource: 'arn:aws:iam::123456789012:user/eng/*' },
      { action: 'iam:GetLoginProfile', resource: 'arn:aws:iam::123456789012:user/eng/*' },
    ]);
  });
});
