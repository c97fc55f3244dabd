import { listUsersResource, userArn, usersArnPattern, type Partition } from '@keyturn/iam';
import { DISCOVERY_ACTIONS, discoveryStatements, type DiscoveryAction } from '@keyturn/secret-types';
import type { PolicyDocument } from './required-permissions.js';

export interface DiscoveryPermissions {
  /** The IAM user whose key runs the discovery. */
  executorUser: string;
  accountId: string;
  /** The IAM path the discovery lists users under ("/": the whole account). */
  pathPrefix: string;
  /** Attach to the executor: exactly what a discovery needs, nothing more. */
  policy: PolicyDocument;
  /** Optional extras (SimulatePrincipalPolicy on itself, for `?check=true`). */
  recommended: PolicyDocument;
  /** Denied, the run fails naming the action. */
  requiredActions: DiscoveryAction[];
  /** Denied, the run goes on without that datum and warns. */
  optionalActions: DiscoveryAction[];
}

/**
 * The least-privilege policy of a discovery run (docs/architecture.md,
 * "Discovery"): the four discovery calls on every user under the path prefix,
 * in the executor account's partition.
 */
export function discoveryPermissions(opts: { partition: Partition; accountId: string; executorUser: string; pathPrefix?: string }): DiscoveryPermissions {
  const pathPrefix = opts.pathPrefix ?? '/';
  const { statement, recommended } = discoveryStatements({
    users: usersArnPattern(opts.partition, opts.accountId, pathPrefix),
    executorSelf: userArn(opts.partition, opts.accountId, '${aws:username}'),
  });
  return {
    executorUser: opts.executorUser,
    accountId: opts.accountId,
    pathPrefix,
    policy: { Version: '2012-10-17', Statement: [statement] },
    recommended: { Version: '2012-10-17', Statement: recommended },
    requiredActions: [...DISCOVERY_ACTIONS.required],
    optionalActions: [...DISCOVERY_ACTIONS.optional],
  };
}

/**
 * What `?check=true` simulates, each action against the resource IAM checks it
 * on: iam:ListUsers against the path prefix's ARN, the per-user calls against
 * the ARN pattern of every user under it (a policy naming only some users does
 * not let a discovery see them all, and is reported as denied).
 */
export function discoverySimulation(partition: Partition, accountId: string, pathPrefix = '/'): { action: DiscoveryAction; resource: string }[] {
  return [...DISCOVERY_ACTIONS.required, ...DISCOVERY_ACTIONS.optional].map((action) => ({
    action,
    resource: action === 'iam:ListUsers' ? listUsersResource(partition, accountId, pathPrefix) : usersArnPattern(partition, accountId, pathPrefix),
  }));
}
