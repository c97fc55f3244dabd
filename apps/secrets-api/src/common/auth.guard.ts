import { Injectable, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { KeyturnError, type Actor, type Role } from '@keyturn/contracts';
import { ApiKeysService, AuthLimiter, actorOf, impliedRoles } from '@keyturn/auth';
import { PUBLIC_KEY, ROLE_KEY } from './auth.decorators.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

@Injectable()
export class AuthGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    private readonly apiKeys: ApiKeysService,
    private readonly limiter: AuthLimiter,
  ) {}

  async canActivate(ctx: ExecutionContext): Promise<boolean> {
    const targets = [ctx.getHandler(), ctx.getClass()];
    if (this.reflector.getAllAndOverride<boolean>(PUBLIC_KEY, targets)) return true;
    const role = this.reflector.getAllAndOverride<Role | undefined>(ROLE_KEY, targets);
    // Fail closed: a route nobody classified is reachable by nobody.
    if (!role) throw new Error(`route ${ctx.getClass().name}.${ctx.getHandler().name} has no @RequireRole or @Public`);

    const req = ctx.switchToHttp().getRequest<FastifyRequest & { actor?: Actor }>();
    const reply = ctx.switchToHttp().getResponse<FastifyReply>();
    const ip = req.ip;
    const wait = await this.limiter.blockedFor(ip);
    if (wait) {
      void reply.header('Retry-After', String(wait));
      throw new KeyturnError('TOO_MANY_FAILED_AUTHENTICATIONS', `too many failed authentications from this address; try again in ${wait} s`, 429);
    }

    const header = req.headers.authorization;
    const match = typeof header === 'string' ? /^Bearer\s+(\S+)\s*$/i.exec(header) : null;
    if (!match) {
      throw new KeyturnError('UNAUTHENTICATED', 'send an API key as "Authorization: Bearer kt_…"', 401);
    }
    const key = await this.apiKeys.authenticate(match[1]);
    if (!key) {
      await this.limiter.recordFailure(ip);
      // Slow guessing down a little on every miss; the 429 above stops it.
      await sleep(100 + Math.floor(Math.random() * 100));
      throw new KeyturnError('INVALID_API_KEY', 'the API key is unknown or has been revoked', 401);
    }
    if (!impliedRoles(key.role).includes(role)) {
      throw new KeyturnError('FORBIDDEN', `this endpoint needs the ${role} role; this API key has the ${key.role} role`, 403);
    }
    req.actor = actorOf(key, String(req.id));
    return true;
  }
}
