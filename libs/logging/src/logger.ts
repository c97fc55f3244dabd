import { pino, type Logger, type LoggerOptions } from 'pino';
import type { LoggerService } from '@nestjs/common';

/**
 * Field names that hold key material anywhere in a log object. pino's redact
 * wildcards match one level, so each name is listed at the depths we log.
 */
const SECRET_FIELDS = [
  'secretAccessKey',
  'accessKeyId',
  'password',
  'oldPassword',
  'newPassword',
  'token',
  'authorization',
  'masterKey',
  'wrappedKey',
  'fields',
];

export const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'headers.authorization',
  ...SECRET_FIELDS,
  ...SECRET_FIELDS.map((f) => `*.${f}`),
  ...SECRET_FIELDS.map((f) => `*.*.${f}`),
];

export function createLogger(opts: { level: string; app: string }): Logger {
  const options: LoggerOptions = {
    level: opts.level,
    base: { app: opts.app, pid: process.pid },
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    timestamp: pino.stdTimeFunctions.isoTime,
  };
  return pino(options);
}

/**
 * Nest's contexts whose info lines narrate its own start-up: one line per
 * module wired and per route mapped, about sixty on every start, which bury
 * the lines a person needs. They stay available at LOG_LEVEL=debug.
 */
const FRAMEWORK_CHATTER = new Set(['NestFactory', 'InstanceLoader', 'RoutesResolver', 'RouterExplorer', 'NestApplication']);

/** Nest's logger interface on top of pino, so framework and app lines share one redacted stream. */
export class PinoNestLogger implements LoggerService {
  constructor(private readonly logger: Logger) {}

  log(message: unknown, ...rest: unknown[]): void {
    const context = rest[rest.length - 1];
    this.write(typeof context === 'string' && FRAMEWORK_CHATTER.has(context) ? 'debug' : 'info', message, rest);
  }
  error(message: unknown, ...rest: unknown[]): void {
    this.write('error', message, rest);
  }
  warn(message: unknown, ...rest: unknown[]): void {
    this.write('warn', message, rest);
  }
  debug(message: unknown, ...rest: unknown[]): void {
    this.write('debug', message, rest);
  }
  verbose(message: unknown, ...rest: unknown[]): void {
    this.write('trace', message, rest);
  }
  fatal(message: unknown, ...rest: unknown[]): void {
    this.write('fatal', message, rest);
  }

  private write(level: 'info' | 'error' | 'warn' | 'debug' | 'trace' | 'fatal', message: unknown, rest: unknown[]): void {
    // Nest passes the context name last; an error's stack comes before it.
    const context = typeof rest[rest.length - 1] === 'string' ? (rest.pop() as string) : undefined;
    const obj: Record<string, unknown> = {};
    if (context) obj.context = context;
    if (level === 'error' && typeof rest[0] === 'string') obj.stack = rest[0];
    if (message instanceof Error) {
      obj.err = message;
      this.logger[level](obj, message.message);
    } else if (typeof message === 'object' && message !== null) {
      this.logger[level]({ ...obj, ...(message as object) });
    } else {
      this.logger[level](obj, String(message));
    }
  }
}
