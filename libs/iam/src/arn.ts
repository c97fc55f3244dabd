import type { Partition } from './iam-client.port.js';

export interface ParsedArn {
  /** Kept as a string: ARNs from partitions Keyturn does not target (aws-iso, ...) still parse. */
  partition: string;
  service: string;
  region: string;
  accountId: string;
  resource: string;
}

/** The partition a region belongs to; ARNs and endpoints differ per partition. */
export function partitionForRegion(region: string): Partition {
  const r = region.trim().toLowerCase();
  if (r.startsWith('cn-')) return 'aws-cn';
  if (r.startsWith('us-gov-')) return 'aws-us-gov';
  return 'aws';
}

/** `arn:<partition>:iam::<account>:user<path><name>`; the path is normalised to start and end with "/". */
export function userArn(partition: Partition, accountId: string, userName: string, path = '/'): string {
  let p = path || '/';
  if (!p.startsWith('/')) p = `/${p}`;
  if (!p.endsWith('/')) p = `${p}/`;
  return `arn:${partition}:iam::${accountId}:user${p}${userName}`;
}

/** Every user under an IAM path: `arn:aws:iam::123456789012:user/eng/*` (the whole account with "/"). */
export function usersArnPattern(partition: Partition, accountId: string, pathPrefix = '/'): string {
  return `arn:${partition}:iam::${accountId}:user${pathPrefix}*`;
}

/**
 * The resource IAM authorizes iam:ListUsers against: the path prefix's own ARN,
 * `arn:aws:iam::123456789012:user/` without a prefix (as AWS's AccessDenied
 * names it) or `…:user/eng/` for "/eng/". {@link usersArnPattern} matches it.
 */
export function listUsersResource(partition: Partition, accountId: string, pathPrefix = '/'): string {
  return `arn:${partition}:iam::${accountId}:user${pathPrefix}`;
}

/** Splits an ARN into its six parts, or null when it is not one. The resource may itself contain ":". */
export function parseArn(arn: string): ParsedArn | null {
  if (typeof arn !== 'string') return null;
  const parts = arn.split(':');
  if (parts.length < 6 || parts[0] !== 'arn') return null;
  const [, partition, service, region, accountId, ...rest] = parts;
  const resource = rest.join(':');
  if (!partition || !service || !resource) return null;
  return { partition, service, region, accountId, resource };
}

/**
 * The IAM user name of a user ARN, path-aware (`user/division/team/alice` → `alice`).
 * Null for anything that is not an IAM user: the root user, roles, and STS
 * assumed-role or federated-user ARNs, which GetCallerIdentity may also return.
 */
export function userNameFromArn(arn: string): string | null {
  const parsed = parseArn(arn);
  if (!parsed || parsed.service !== 'iam' || !parsed.accountId) return null;
  if (!parsed.resource.startsWith('user/')) return null;
  const name = parsed.resource.slice(parsed.resource.lastIndexOf('/') + 1);
  return name || null;
}

/** IAM user names are unique without regard to case ("Alice" and "alice" are one user). */
export function sameIamUser(a: string | null | undefined, b: string | null | undefined): boolean {
  return !!a && !!b && a.toLowerCase() === b.toLowerCase();
}
