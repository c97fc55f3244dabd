import { createParamDecorator, SetMetadata, type ExecutionContext } from '@nestjs/common';
import type { Actor, Role } from '@keyturn/contracts';

export const PUBLIC_KEY = 'keyturn:public';
export const ROLE_KEY = 'keyturn:role';
export const AUDIT_KEY = 'keyturn:audit';

/** No API key needed (health, docs). */
export const Public = () => SetMetadata(PUBLIC_KEY, true);

/** The role an endpoint needs. Every non-public route must say; the guard refuses routes that do not. */
export const RequireRole = (role: Role) => SetMetadata(ROLE_KEY, role);

export interface AuditSpec {
  action: string;
  targetType: 'secret' | 'settings' | 'api-key' | 'rotation' | 'heartbeat' | 'discovery';
  /** Where the secret id comes from: the `:id` route param, or the response's `secretId` (else its `id`). */
  secretFrom?: 'param' | 'response';
  /** Record the response's `version` in the event's details (which version the caller now holds). */
  versionFrom?: 'response';
}

/** Records exactly one audit event per request, success or failure. */
export const Audited = (spec: AuditSpec) => SetMetadata(AUDIT_KEY, spec);

export const CurrentActor = createParamDecorator((_: unknown, ctx: ExecutionContext): Actor => {
  const req = ctx.switchToHttp().getRequest<{ actor?: Actor }>();
  if (!req.actor) throw new Error('no actor on the request: is the route missing @RequireRole?');
  return req.actor;
});
