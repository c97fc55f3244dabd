import { Injectable, Logger, type BeforeApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import type { FastifyInstance } from 'fastify';

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
      return reply
        .status(503)
        .header('connection', 'close')
        .send({ statusCode: 503, code: 'SHUTTING_DOWN', message: 'this API process is shutting down; send the request again (another instance, or this one after its restart, will answer)' });
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
