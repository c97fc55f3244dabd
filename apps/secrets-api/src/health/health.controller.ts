import { Controller, Get, HttpCode, Inject, Logger, Res } from '@nestjs/common';
import { ApiExtraModels, ApiOkResponse, ApiOperation, ApiResponse, ApiTags, getSchemaPath } from '@nestjs/swagger';
import { ANY_REQUEST_ERRORS, ApiErrors, ErrorResponse, RETRY_AFTER } from '../common/error.response.js';
import { LiveResponse, ReadyResponse } from './health.responses.js';
import { InjectDataSource } from '@nestjs/typeorm';
import type { FastifyReply } from 'fastify';
import type { DataSource } from 'typeorm';
import { REDIS, assertRedisReady, type RedisClient } from '@keyturn/queue';
import { Public } from '../common/auth.decorators.js';

const within = <T>(p: Promise<T>, ms: number) =>
  Promise.race([p, new Promise<never>((_, rej) => setTimeout(() => rej(new Error(`no answer within ${ms} ms`)), ms).unref())]);

@ApiTags('health')
@Controller('health')
export class HealthController {
  private readonly logger = new Logger('Health');

  constructor(
    @InjectDataSource() private readonly ds: DataSource,
    @Inject(REDIS) private readonly redis: RedisClient,
  ) {}

  @Get('live')
  @Public()
  @HttpCode(200)
  @ApiOperation({ summary: 'The process is up' })
  @ApiOkResponse({ type: LiveResponse })
  @ApiErrors(...ANY_REQUEST_ERRORS)
  live() {
    return { status: 'ok' };
  }

  @Get('ready')
  @Public()
  @ApiOperation({ summary: 'Postgres and Redis answer; on Redis Cluster, every master is up and cluster_state is ok (503 otherwise)' })
  @ApiOkResponse({ type: ReadyResponse })
  @ApiErrors(...ANY_REQUEST_ERRORS.filter((s) => s !== 503))
  @ApiExtraModels(ReadyResponse, ErrorResponse)
  @ApiResponse({
    status: 503,
    description: 'A dependency is down (the checks say which), or the API is shutting down (the error shape)',
    schema: { oneOf: [{ $ref: getSchemaPath(ReadyResponse) }, { $ref: getSchemaPath(ErrorResponse) }] },
    headers: RETRY_AFTER,
  })
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
    // On a cluster: every master up and cluster_state:ok, not just one node answering.
    const [postgres, redis] = await Promise.all([check(() => this.ds.query('SELECT 1')), check(() => assertRedisReady(this.redis))]);
    const ok = postgres === 'ok' && redis === 'ok';
    void reply.status(ok ? 200 : 503);
    return { status: ok ? 'ok' : 'unavailable', checks: { postgres, redis } };
  }
}
