import { Injectable, Logger, type BeforeApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import type { FastifyInstance } from 'fastify';
import { ErrorCode, KeyturnError } from '@keyturn/contracts';
import { bodyOf } from './error.filter.js';

/** How long requests in flight at shutdown may take to finish before their connections are cut. */
const DRAIN_TIMEOUT_MS = 25_000;

/**
 * On shutdown, closes the HTTP server before anything else closes (the
 * database pool closes in onApplicationShutdown, after this hook): no new
 * requests, the ones in flight finish, then the process may go on.
 *
 * fastify's close() alone waits for keep-alive connections (a load balancer's)
 * until they time out (72 s), so idle connections are closed as soon as they
 * become idle, and after DRAIN_TIMEOUT_MS whatever is left is cut.
 */
@Injectable()
export class HttpDrainService implements OnModuleInit, BeforeApplicationShutdown {
  private readonly logger = new Logger('Shutdown');
  private closing = false;

  constructor(private readonly adapterHost: HttpAdapterHost) {}

  onModuleInit(): void {
    // A request that arrives on an open connection while the server drains is refused in the API's
    // error shape (fastify's own 503 has no code; bootstrap turns it off with return503OnClosing: false).
    this.adapterHost.httpAdapter?.getInstance<FastifyInstance>().addHook('onRequest', async (_req, reply) => {
      if (!this.closing) return;
      const body = bodyOf(new KeyturnError(ErrorCode.SHUTTING_DOWN));
      return reply.status(body.statusCode).header('connection', 'close').send(body);
    });
  }

  async beforeApplicationShutdown(): Promise<void> {
    const fastify = this.adapterHost.httpAdapter?.getInstance<FastifyInstance>();
    if (!fastify?.server.listening) return;
    const server = fastify.server;
    this.closing = true;
    this.logger.log('closing the HTTP server; requests in flight may finish');
    const sweep = setInterval(() => server.closeIdleConnections(), 100);
    const deadline = setTimeout(() => {
      this.logger.warn(`requests still running ${DRAIN_TIMEOUT_MS} ms after shutdown began; closing their connections`);
      server.closeAllConnections();
    }, DRAIN_TIMEOUT_MS);
    try {
      await fastify.close();
    } finally {
      clearInterval(sweep);
      clearTimeout(deadline);
    }
    this.logger.log('HTTP server closed');
  }
}
