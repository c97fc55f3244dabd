import 'reflect-metadata';
import { Logger } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { loadConfigOrExit, orExitAsync } from '@keyturn/config';
import { createLogger, PinoNestLogger } from '@keyturn/logging';
import { checkedPoolOptions, prepareDatabase } from '@keyturn/store';
import { REDIS } from '@keyturn/queue';
import { exitOnKeyMismatch, verifyVaultKeys } from '@keyturn/vault';
import type { Redis } from 'ioredis';
import { DataSource } from 'typeorm';
import { RotationWorkerModule } from './app.module.js';

const config = loadConfigOrExit();
const log = createLogger({ level: config.logLevel, app: 'rotation-worker' });
await prepareDatabase({ ...config.database, log: (m) => log.info(m) });
// Before any job runs: a master key that cannot read the database ends the process with exit 78.
await verifyVaultKeys(config, { info: (m) => log.info(m), warn: (m) => log.warn(m) }).catch(exitOnKeyMismatch);
const pool = await orExitAsync(() => checkedPoolOptions(config, 'rotation-worker'));
const app = await NestFactory.createApplicationContext(RotationWorkerModule.forRoot(config, pool), { logger: new PinoNestLogger(log) });
app.enableShutdownHooks([], { useProcessExit: true });
await app.get(DataSource).query('SELECT 1');
await app.get<Redis>(REDIS).ping();
new Logger('RotationWorker').log(`ready: connected to Postgres (pool of ${pool.poolSize}) and Redis`);
