import { Controller, Get, Res } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { metrics } from '@keyturn/metrics';
import { Public } from '../common/auth.decorators.js';
import { ANY_REQUEST_ERRORS, ApiErrors } from '../common/error.response.js';

/**
 * Prometheus metrics of this API process, without authentication like
 * /health: every label is a bounded enum (route templates, status codes,
 * error codes), so nothing in it names a secret, a user or a key. Keep the
 * port off the internet as you would /health.
 */
@ApiTags('health')
@Controller('metrics')
export class MetricsController {
  @Get()
  @Public()
  @ApiOperation({ summary: 'Prometheus metrics of this process (text exposition format)' })
  @ApiOkResponse({ description: 'Prometheus text exposition format 0.0.4', content: { 'text/plain': { schema: { type: 'string' } } } })
  @ApiErrors(...ANY_REQUEST_ERRORS)
  async scrape(@Res({ passthrough: true }) reply: FastifyReply): Promise<string> {
    const { contentType, body } = await metrics().exposition();
    void reply.header('content-type', contentType);
    return body;
  }
}
