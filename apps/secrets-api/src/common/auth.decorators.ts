import { createParamDecorator, SetMetadata, type ExecutionContext } from '@nestjs/common';
import type { Actor, Role } from '@keyturn/contracts';

export const PUBLIC_KEY = 'keyturn:public';
export const ROLE_KEY = 'keyturn:role';

/** No API key needed (health, docs). */
export const Public = () => SetMetadata(PUBLIC_KEY, true);

/** The role an endpoint needs. Every non-public route must say; the guard refuses routes that do not. */
export const RequireRole = (role: Role) => SetMetadata(ROLE_KEY, role);

export const CurrentActor = createParamDecorator((_: unknown, ctx: ExecutionContext): Actor => {
  const req = ctx.switchToHttp().getRequest<{ actor?: Actor }>();
  if (!req.actor) throw new Error('no actor on the request: is the route missing @RequireRole?');
  return req.actor;
});
