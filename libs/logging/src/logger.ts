import { createRequire } from 'node:module';
import { pino, type Logger, type LoggerOptions } from 'pino';
import type { PinoPretty as PinoPrettyFn } from 'pino-pretty';

/** Loaded only when a terminal wants pretty lines: production and piped starts never pay for it. */
const loadPretty = (): typeof PinoPrettyFn => (createRequire(import.meta.url)('pino-pretty') as { PinoPretty: typeof PinoPrettyFn }).PinoPretty;
import type { LoggerService } from '@nestjs/common';
import { allSecretFieldNames } from '@keyturn/secret-types';

/**
 * Field names that hold key material anywhere in a log object: every secret
 * type's fields (from its definition, so a new type is redacted without an
 * edit here) and the other secrets Keyturn handles. pino's redact wildcards
 * match one level, so each name is listed at the depths we log.
 */
const SECRET_FIELDS = [
  ...allSecretFieldNames(),
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

/**
 * Pretty logs for a person at a terminal: outside production, when stdout is
 * a TTY. Anything else (a pipe, a file, a container's log driver, npm start's
 * relay, which pretty-prints itself) gets one JSON object per line.
 */
export function usePrettyLogs(nodeEnv: string | undefined, stdout: { isTTY?: boolean } = process.stdout): boolean {
  return nodeEnv !== 'production' && stdout.isTTY === true;
}

/** pino-pretty's options for Keyturn's lines, shared with scripts/start.mjs. */
export const PRETTY_OPTIONS = { colorize: true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname,app' } as const;

/**
 * `pretty` (see usePrettyLogs): human-readable lines, after the same redaction
 * as the JSON ones. `destination` (tests) replaces stdout for pretty lines.
 */
export function createLogger(opts: { level: string; app: string; pretty?: boolean; destination?: NodeJS.WritableStream }): Logger {
  const options: LoggerOptions = {
    level: opts.level,
    base: { app: opts.app, pid: process.pid },
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    timestamp: pino.stdTimeFunctions.isoTime,
  };
  // In-process and synchronous: no worker thread, and no line lost when the process exits right after it.
  return opts.pretty ? pino(options, loadPretty()({ ...PRETTY_OPTIONS, sync: true, destination: opts.destination ?? 1 })) : pino(options);
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
    const args = [...rest];
    // Nest's Logger appends its context as the last argument. A stack in that place
    // (static Logger.error(message, stack)) is not a context, whatever its type says.
    const last = args[args.length - 1];
    const context = typeof last === 'string' && !isStack(last) ? (args.pop() as string) : undefined;
    const obj: Record<string, unknown> = {};
    if (context) obj.context = context;
    const texts: string[] = [];
    for (const arg of args) {
      if (arg === undefined || arg === null) continue; // Nest pads error() with undefined
      if (typeof arg === 'string') {
        if ((level === 'error' || level === 'fatal') && isStack(arg)) obj.stack = arg;
        else texts.push(arg);
      } else if (arg instanceof Error) {
        obj.err = arg;
      } else if (typeof arg === 'object') {
        Object.assign(obj, arg);
      } else {
        texts.push(String(arg));
      }
    }
    if (message instanceof Error) {
      obj.err = message;
      texts.unshift(message.message);
    } else if (typeof message === 'object' && message !== null) {
      Object.assign(obj, message);
    } else if (message !== undefined) {
      texts.unshift(String(message));
    }
    if (texts.length) this.logger[level](obj, texts.join(' '));
    else this.logger[level](obj);
  }
}

/** What V8 prints for an error: a first line, then frames indented and starting with "at". */
function isStack(value: string): boolean {
  return /\n[ \t]+at .+/.test(value);
}
