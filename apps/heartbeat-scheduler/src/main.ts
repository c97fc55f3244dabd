import 'reflect-metadata';
import { Logger } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { exitOnStartupError, loadConfigOrExit, orExitAsync, showsStacks } from '@keyturn/config';
import { createLogger, PinoNestLogger, usePrettyLogs } from '@keyturn/logging';
import { initMetrics } from '@keyturn/metrics';
import { ClusterStatsRepository, startOpsListener } from '@keyturn/ops';
import { checkedPoolOptions, prepareDatabase } from '@keyturn/store';
import { JobProducer, REDIS, assertRedisReady, probeRedis, type RedisClient } from '@keyturn/queue';
import { exitOnKeyMismatch, verifyVaultKeys } from '@keyturn/vault';
import { DataSource } from 'typeorm';
import { HeartbeatSchedulerModule } from './app.module.js';

const config = loadConfigOrExit();
const log = createLogger({ level: config.logLevel, app: 'heartbeat-scheduler', pretty: usePrettyLogs(config.env) });
// Before anything records: this process's Prometheus registry.
const metrics = initMetrics('heartbeat-scheduler');
// Postgres or Redis unreachable or refusing, and the like: one line with the fix and a distinct exit code.
const failed = exitOnStartupError('heartbeat-scheduler', { debug: showsStacks(config.logLevel) });
await prepareDatabase({ ...config.database, log: (m) => log.info(m), debug: (m) => log.debug(m) }).catch(failed);
// Checked before Nest starts: its queues would otherwise retry a dead Redis in the background forever.
await probeRedis(config.redis).catch(failed);
// Before any job runs: a master key that cannot read the database ends the process with exit 78.
await verifyVaultKeys(config, { info: (m) => log.info(m), warn: (m) => log.warn(m) }).catch(exitOnKeyMismatch).catch(failed);
const pool = await orExitAsync(() => checkedPoolOptions(config, 'heartbeat-scheduler'));
const app = await NestFactory.createApplicationContext(HeartbeatSchedulerModule.forRoot(config, pool), { logger: new PinoNestLogger(log) });
app.enableShutdownHooks([], { useProcessExit: true });
const ds = app.get(DataSource);
const redis = app.get<RedisClient>(REDIS);
await ds.query('SELECT 1');
await redis.ping();
// The cluster-wide gauges (queues, secrets, key age, webhook backlog, scheduler lag) come from the scheduler
// only, so a sum over every scraped process counts each once.
const jobs = app.get(JobProducer);
metrics.registerClusterGauges(new ClusterStatsRepository(ds, (name) => jobs.queue(name)));
// The port taken and the like: one line naming SCHEDULER_OPS_PORT and exit code 69, as for the API's PORT.
const ops = await startOpsListener({
  host: config.http.host,
  port: config.ops.schedulerPort,
  portSetting: 'SCHEDULER_OPS_PORT',
  metrics,
  checks: { postgres: () => ds.query('SELECT 1'), redis: () => assertRedisReady(redis) },
  warn: (m) => log.warn(m),
}).catch(failed);
for (const signal of ['SIGTERM', 'SIGINT'] as const) process.once(signal, () => ops.draining());
new Logger('HeartbeatScheduler').log(`ops endpoints: ${ops.paths.map((p) => ops.url + p).join(' ')}`);
new Logger('HeartbeatScheduler').log('ready: connected to Postgres and Redis');
