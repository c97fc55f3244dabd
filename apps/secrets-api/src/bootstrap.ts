import { randomUUID } from 'node:crypto';
import { Logger } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { LogController, type FastifyBaseLogger } from 'fastify';
import { SwaggerModule } from '@nestjs/swagger';
import { STARTUP_EXIT, StartupError, type KeyturnConfig } from '@keyturn/config';
import { createLogger, PinoNestLogger, usePrettyLogs, type Logger as PinoLogger } from '@keyturn/logging';
import { metrics } from '@keyturn/metrics';
import { prepareDatabase } from '@keyturn/store';
import { probeRedis } from '@keyturn/queue';
import { ApiKeysService } from '@keyturn/auth';
import { verifyVaultKeys } from '@keyturn/vault';
import { AppModule } from './app.module.js';
import { createOpenApiDocument } from './openapi.js';
import { validationPipe } from './common/pipes.js';
import { clientErrorHandler, frameworkErrors, installInputGuard } from './common/request-guards.js';

/** Builds the API (used by main.ts and by e2e tests, which listen on port 0). */
export interface CreateApiOptions {
  /**
   * Serve OpenAPI at /docs. In-process e2e tests turn it off: @fastify/static
   * require()s an ES module, which Jest on Node 20 cannot load. The spawned
   * API in the e2e suite serves and checks /docs.
   */
  docs?: boolean;
}

export async function createApi(config: KeyturnConfig, opts: CreateApiOptions = {}): Promise<NestFastifyApplication> {
  const log = createLogger({ level: config.logLevel, app: 'secrets-api', pretty: usePrettyLogs(config.env) });
  // Postgres unreachable or refusing throws a StartupError (main.ts: one line and its exit code).
  await prepareDatabase({ ...config.database, log: (m) => log.info(m), debug: (m) => log.debug(m) });
  await checkRedis(config, log);
  // Before anything serves: a master key that cannot read the database throws MasterKeyMismatchError (main.ts: exit 78).
  await verifyVaultKeys(config, { info: (m) => log.info(m), warn: (m) => log.warn(m) });

  const requestLines = log.isLevelEnabled('debug');
  const adapter = new FastifyAdapter({
    loggerInstance: log.child({ context: 'http' }),
    // fastify's two lines per request ("incoming request", "request completed") only at LOG_LEVEL=debug:
    // at info they were the largest cost of a read after the database (serialising and writing two
    // redacted objects per request). A 5xx is logged by the error filter at every level.
    logController: new LogController({ disableRequestLogging: !requestLines }),
    // Likewise the per-request child logger (pino serialises its bindings through the redaction on every
    // request): below debug every request logs through the http logger, and the lines that concern one
    // request (the error filter's, router failures) carry its reqId themselves.
    ...(requestLines ? {} : { childLoggerFactory: (logger: FastifyBaseLogger) => logger }),
    bodyLimit: 64 * 1024,
    trustProxy: config.http.trustProxy,
    requestIdHeader: 'x-request-id',
    genReqId: () => randomUUID(),
    // Refusals from Node's parser and fastify's router get the API's error shape too.
    clientErrorHandler,
    frameworkErrors,
    // common/http-drain.service.ts answers requests that arrive while draining, in the API's error shape.
    return503OnClosing: false,
  });
  // JSON only: fastify would otherwise accept text/plain bodies, which belong to no endpoint.
  adapter.getInstance().removeContentTypeParser('text/plain');
  installInputGuard(adapter.getInstance());
  // keyturn_http_request_duration_seconds: the route template (/v1/secrets/:id), never the URL; unmatched is `other`.
  adapter.getInstance().addHook('onResponse', (req, reply, done) => {
    metrics().httpRequest(req.method, req.routeOptions.url, reply.statusCode, reply.elapsedTime / 1000);
    done();
  });
  const app = await NestFactory.create<NestFastifyApplication>(AppModule.forRoot(config), adapter, {
    logger: new PinoNestLogger(log),
    bufferLogs: false,
  });
  app.useGlobalPipes(validationPipe);
  // Exit 0 after a clean shutdown (by default Nest re-raises the signal, which reads as a crash).
  app.enableShutdownHooks([], { useProcessExit: true });

  if (opts.docs !== false) setupDocs(app);

  if (config.http.bootstrapAdminToken) {
    const outcome = await app.get(ApiKeysService).bootstrapAdmin(config.http.bootstrapAdminToken);
    new Logger('Bootstrap').log(
      outcome === 'created'
        ? 'created the first admin API key from KEYTURN_BOOTSTRAP_ADMIN_TOKEN'
        : outcome === 'exists'
          ? 'KEYTURN_BOOTSTRAP_ADMIN_TOKEN is already an API key'
          : 'an admin API key exists; KEYTURN_BOOTSTRAP_ADMIN_TOKEN was not used',
    );
  }
  return app;
}

/**
 * Redis refusing the password is a setting to fix: the API does not start. Redis
 * merely down is an outage the API is built to serve through (reads work,
 * rotation requests are stored and enqueued when it is back), so it starts
 * anyway and says so.
 */
async function checkRedis(config: KeyturnConfig, log: PinoLogger): Promise<void> {
  try {
    await probeRedis(config.redis);
  } catch (e) {
    if (!(e instanceof StartupError) || e.exitCode !== STARTUP_EXIT.UNAVAILABLE) throw e;
    log.warn(
      `${e.message} Until then the API serves reads, stores rotation and heartbeat requests (enqueued once Redis is back), ` +
        'and /health/ready answers 503.',
    );
  }
}

function setupDocs(app: NestFastifyApplication): void {
  SwaggerModule.setup('docs', app, () => createOpenApiDocument(app), { jsonDocumentUrl: 'docs/openapi.json' });
}
