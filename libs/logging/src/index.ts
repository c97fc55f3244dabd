export * from './logger.js';
export type { Logger } from 'pino';
