import { Controller, Get, HttpCode, Inject, Logger, Res } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import { InjectDataSource } from '@nestjs/typeorm';
import type { FastifyReply } from 'fastify';
import type { Redis } from 'ioredis';
import type { DataSource } from 'typeorm';
import { REDIS } from '@keyturn/queue';
import { Public } from '../common/auth.decorators.js';

const within = <T>(p: Promise<T>, ms: number) =>
  Promise.race([p, new Promise<never>((_, rej) => setTimeout(() => rej(new Error(`no answer within ${ms} ms`)), ms).unref())]);

@ApiTags('health')
@Controller('health')
export class HealthController {
  private readonly logger = new Logger('Health');

  constructor(
    @InjectDataSource() private readonly ds: DataSource,
    @Inject(REDIS) private readonly redis: Redis,
  ) {}

  @Get('live')
  @Public()
  @HttpCode(200)
  @ApiOperation({ summary: 'The process is up' })
  live() {
    return { status: 'ok' };
  }

  @Get('ready')
  @Public()
  @ApiOperation({ summary: 'Postgres and Redis answer (503 otherwise)' })
  async ready(@Res({ passthrough: true }) reply: FastifyReply) {
    const check = async (fn: () => Promise<unknown>) => {
      try {
        await within(fn(), 2_000);
        return 'ok';
      } catch (e) {
        // The reason (host names, user names) is for operators, not for anonymous callers.
        this.logger.warn(`readiness check failed: ${(e as Error).message}`);
        return 'down';
      }
    };
    const redisPing = async () => {
      // A connection known to be down would hold the ping in ioredis' offline queue: answer at once.
      if (['reconnecting', 'close', 'end'].includes(this.redis.status)) throw new Error(`Redis connection is ${this.redis.status}`);
      return this.redis.ping();
    };
    const [postgres, redis] = await Promise.all([check(() => this.ds.query('SELECT 1')), check(redisPing)]);
    const ok = postgres === 'ok' && redis === 'ok';
    void reply.status(ok ? 200 : 503);
    return { status: ok ? 'ok' : 'unavailable', checks: { postgres, redis } };
  }
}
