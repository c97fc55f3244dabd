import { Writable } from 'node:stream';
import { Logger } from '@nestjs/common';
import { pino } from 'pino';
import { PinoNestLogger, REDACT_PATHS } from '@keyturn/logging';

/** A PinoNestLogger whose pino writes JSON lines into an array, installed as Nest's logger. */
function capture(): { lines: () => Record<string, unknown>[]; nest: PinoNestLogger } {
  const out: string[] = [];
  const sink = new Writable({
    write(chunk, _enc, cb) {
      out.push(String(chunk));
      cb();
    },
  });
  const nest = new PinoNestLogger(pino({ level: 'trace', redact: { paths: REDACT_PATHS, censor: '[redacted]' } }, sink));
  Logger.overrideLogger(nest);
  return { nest, lines: () => out.join('').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>) };
}

// A real stack as V8 prints it: the first line, then frames indented by four spaces.
const STACK = 'Error: boom\n    at handler (/srv/app/handler.js:10:15)\n    at process (node:internal/process:1:1)';

describe('PinoNestLogger through Nest’s Logger', () => {
  let c: ReturnType<typeof capture>;
  beforeEach(() => {
    c = capture();
  });

  it('keeps the message of an object and a message, at every level, with the context', () => {
    const log = new Logger('Heartbeats');
    log.log({ secretId: 's1', from: 'success', to: 'failed' }, 'heartbeat status changed');
    log.warn({ rotationId: 'r1', code: 'X' }, 'rotation failed: the key is gone');
    log.debug({ jobId: 'j1' }, 'postponed');
    log.verbose({ n: 1 }, 'verbose line');
    log.fatal({ n: 2 }, 'fatal line');
    expect(c.lines()).toEqual([
      expect.objectContaining({ level: 30, msg: 'heartbeat status changed', context: 'Heartbeats', secretId: 's1', from: 'success', to: 'failed' }),
      expect.objectContaining({ level: 40, msg: 'rotation failed: the key is gone', context: 'Heartbeats', rotationId: 'r1', code: 'X' }),
      expect.objectContaining({ level: 20, msg: 'postponed', context: 'Heartbeats', jobId: 'j1' }),
      expect.objectContaining({ level: 10, msg: 'verbose line', context: 'Heartbeats', n: 1 }),
      expect.objectContaining({ level: 60, msg: 'fatal line', context: 'Heartbeats', n: 2 }),
    ]);
  });

  it('error: a message after an object is the message, not a stack', () => {
    new Logger('Http').error({ reqId: 'q1' }, 'request failed');
    const [line] = c.lines();
    expect(line).toEqual(expect.objectContaining({ level: 50, msg: 'request failed', context: 'Http', reqId: 'q1' }));
    expect(line).not.toHaveProperty('stack');
  });

  it('error: a stack (Nest’s error(message, stack)) is kept as the stack, with or without a context', () => {
    new Logger('ExceptionsHandler').error('boom', STACK);
    Logger.error('static boom', STACK);
    expect(c.lines()).toEqual([
      expect.objectContaining({ level: 50, msg: 'boom', stack: STACK, context: 'ExceptionsHandler' }),
      expect.objectContaining({ level: 50, msg: 'static boom', stack: STACK }),
    ]);
    expect(c.lines()[1]).not.toHaveProperty('context');
  });

  it('plain strings: the message and the context; no stray fields', () => {
    new Logger('Worker').log('ready: connected');
    new Logger('Worker').error('audit write failed: timeout');
    Logger.log('static line');
    const lines = c.lines();
    expect(lines[0]).toEqual(expect.objectContaining({ level: 30, msg: 'ready: connected', context: 'Worker' }));
    expect(lines[1]).toEqual(expect.objectContaining({ level: 50, msg: 'audit write failed: timeout', context: 'Worker' }));
    expect(lines[1]).not.toHaveProperty('stack');
    expect(lines[2]).toEqual(expect.objectContaining({ level: 30, msg: 'static line' }));
    expect(lines[2]).not.toHaveProperty('context');
  });

  it('an Error as the message: its text is the message and the error is kept', () => {
    new Logger('Jobs').error(new Error('connection lost'));
    const [line] = c.lines();
    expect(line).toEqual(expect.objectContaining({ level: 50, msg: 'connection lost', context: 'Jobs' }));
    expect(line.err).toEqual(expect.objectContaining({ type: 'Error', message: 'connection lost', stack: expect.stringContaining('\n    at ') }));
  });

  it('still redacts key material in an object that comes with a message', () => {
    new Logger('Rotation').warn({ rotationId: 'r1', secretAccessKey: 'S3CR3T-value' }, 'rotation warning');
    const [line] = c.lines();
    expect(line).toEqual(expect.objectContaining({ msg: 'rotation warning', secretAccessKey: '[redacted]' }));
    expect(JSON.stringify(c.lines())).not.toContain('S3CR3T');
  });
});
