import 'reflect-metadata';
import { Logger } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { exitOnStartupError, loadConfigOrExit, orExitAsync, showsStacks } from '@keyturn/config';
import { createLogger, PinoNestLogger, usePrettyLogs } from '@keyturn/logging';
import { initMetrics } from '@keyturn/metrics';
import { startOpsListener } from '@keyturn/ops';
import { checkedPoolOptions, prepareDatabase } from '@keyturn/store';
import { REDIS, assertRedisReady, probeRedis, type RedisClient } from '@keyturn/queue';
import { exitOnKeyMismatch, verifyVaultKeys } from '@keyturn/vault';
import { DataSource } from 'typeorm';
import { RotationWorkerModule } from './app.module.js';
import { JobProcessor } from './job.processor.js';

const config = loadConfigOrExit();
const log = createLogger({ level: config.logLevel, app: 'rotation-worker', pretty: usePrettyLogs(config.env) });
// Before anything records: this process's Prometheus registry.
const metrics = initMetrics('rotation-worker');
// Postgres or Redis unreachable or refusing, and the like: one line with the fix and a distinct exit code.
const failed = exitOnStartupError('rotation-worker', { debug: showsStacks(config.logLevel) });
await prepareDatabase({ ...config.database, log: (m) => log.info(m), debug: (m) => log.debug(m) }).catch(failed);
// Checked before Nest starts: its queues would otherwise retry a dead Redis in the background forever.
await probeRedis(config.redis).catch(failed);
// Before any job runs: a master key that cannot read the database ends the process with exit 78.
await verifyVaultKeys(config, { info: (m) => log.info(m), warn: (m) => log.warn(m) }).catch(exitOnKeyMismatch).catch(failed);
const pool = await orExitAsync(() => checkedPoolOptions(config, 'rotation-worker'));
const app = await NestFactory.createApplicationContext(RotationWorkerModule.forRoot(config, pool), { logger: new PinoNestLogger(log) });
app.enableShutdownHooks([], { useProcessExit: true });
const ds = app.get(DataSource);
const redis = app.get<RedisClient>(REDIS);
await ds.query('SELECT 1');
await redis.ping();
const processor = app.get(JobProcessor);
// The port taken and the like: one line naming WORKER_OPS_PORT and exit code 69, as for the API's PORT.
const ops = await startOpsListener({
  host: config.http.host,
  port: config.ops.workerPort,
  portSetting: 'WORKER_OPS_PORT',
  metrics,
  checks: {
    postgres: () => ds.query('SELECT 1'),
    redis: () => assertRedisReady(redis),
    workers: async () => {
      if (!processor.workersRunning()) throw new Error('the BullMQ workers are not running');
    },
  },
  warn: (m) => log.warn(m),
}).catch(failed);
for (const signal of ['SIGTERM', 'SIGINT'] as const) process.once(signal, () => ops.draining());
new Logger('RotationWorker').log(`ops endpoints: ${ops.paths.map((p) => ops.url + p).join(' ')}`);
new Logger('RotationWorker').log(`ready: connected to Postgres (pool of ${pool.poolSize}) and Redis`);
