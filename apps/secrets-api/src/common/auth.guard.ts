import { Injectable, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { ErrorCode, KeyturnError, type Actor, type Role } from '@keyturn/contracts';
import { ApiKeysService, AuditService, AuthLimiter, actorOf, impliedRoles } from '@keyturn/auth';
import { PUBLIC_KEY, ROLE_KEY } from './auth.decorators.js';
import { AUDIT_KEY, recordAudit, type AuditSpec } from './audit.interceptor.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

@Injectable()
export class AuthGuard implements CanActivate {
  private readonly routes = new WeakMap<object, RouteAccess>();

  constructor(
    private readonly reflector: Reflector,
    private readonly apiKeys: ApiKeysService,
    private readonly limiter: AuthLimiter,
    private readonly audit: AuditService,
  ) {}

  async canActivate(ctx: ExecutionContext): Promise<boolean> {
    const { isPublic, role, audit } = this.routeOf(ctx);
    if (isPublic) return true;
    // Fail closed: a route nobody classified is reachable by nobody.
    if (!role) throw new Error(`route ${ctx.getClass().name}.${ctx.getHandler().name} has no @RequireRole or @Public`);

    const req = ctx.switchToHttp().getRequest<FastifyRequest & { actor?: Actor }>();
    const reply = ctx.switchToHttp().getResponse<FastifyReply>();
    const ip = req.ip;
    const wait = await this.limiter.blockedFor(ip);
    if (wait) {
      void reply.header('Retry-After', String(wait));
      throw new KeyturnError(ErrorCode.TOO_MANY_FAILED_AUTHENTICATIONS, { retryAfterSeconds: wait });
    }

    const header = req.headers.authorization;
    const match = typeof header === 'string' ? /^Bearer\s+(\S+)\s*$/i.exec(header) : null;
    if (!match) {
      throw new KeyturnError(ErrorCode.UNAUTHENTICATED, { kind: 'no-api-key' });
    }
    const key = await this.apiKeys.authenticate(match[1]);
    if (!key) {
      await this.limiter.recordFailure(ip);
      // Slow guessing down a little on every miss; the 429 above stops it.
      await sleep(100 + Math.floor(Math.random() * 100));
      throw new KeyturnError(ErrorCode.INVALID_API_KEY);
    }
    req.actor = actorOf(key, String(req.id));
    if (!impliedRoles(key.role).includes(role)) {
      // A known key trying an audited action it may not take is worth an event; the interceptor never sees it.
      if (audit) await recordAudit(this.audit, audit, req, 'failure', undefined, ErrorCode.FORBIDDEN);
      throw new KeyturnError(ErrorCode.FORBIDDEN, { kind: 'role', needed: role, has: key.role });
    }
    return true;
  }

  /**
   * What the route's decorators say, read once per handler: decorators are fixed when the class is
   * defined, and reading them through the reflector was several metadata lookups on every request.
   */
  private routeOf(ctx: ExecutionContext): RouteAccess {
    const handler = ctx.getHandler();
    let access = this.routes.get(handler);
    if (!access) {
      const targets = [handler, ctx.getClass()];
      access = {
        isPublic: this.reflector.getAllAndOverride<boolean | undefined>(PUBLIC_KEY, targets) === true,
        role: this.reflector.getAllAndOverride<Role | undefined>(ROLE_KEY, targets),
        audit: this.reflector.get<AuditSpec | undefined>(AUDIT_KEY, handler),
      };
      this.routes.set(handler, access);
    }
    return access;
  }
}

interface RouteAccess {
  isPublic: boolean;
  role: Role | undefined;
  audit: AuditSpec | undefined;
}
