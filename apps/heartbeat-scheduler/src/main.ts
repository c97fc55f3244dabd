import 'reflect-metadata';
import { Logger } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { exitOnStartupError, loadConfigOrExit, orExitAsync, showsStacks } from '@keyturn/config';
import { createLogger, PinoNestLogger } from '@keyturn/logging';
import { checkedPoolOptions, prepareDatabase } from '@keyturn/store';
import { REDIS, probeRedis } from '@keyturn/queue';
import { exitOnKeyMismatch, verifyVaultKeys } from '@keyturn/vault';
import type { Redis } from 'ioredis';
import { DataSource } from 'typeorm';
import { HeartbeatSchedulerModule } from './app.module.js';

const config = loadConfigOrExit();
const log = createLogger({ level: config.logLevel, app: 'heartbeat-scheduler' });
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
await app.get(DataSource).query('SELECT 1');
await app.get<Redis>(REDIS).ping();
new Logger('HeartbeatScheduler').log('ready: connected to Postgres and Redis');
