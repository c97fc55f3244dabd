import { Writable } from 'node:stream';
import { pino } from 'pino';
import { PinoNestLogger, REDACT_PATHS, createLogger, usePrettyLogs } from '@keyturn/logging';
import { allSecretFieldNames } from '@keyturn/secret-types';

describe('log redaction', () => {
  it('never writes key material, at any depth we log', () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk, _enc, cb) {
        lines.push(String(chunk));
        cb();
      },
    });
    const log = pino({ redact: { paths: REDACT_PATHS, censor: '[redacted]' } }, sink);
    log.info({ secretAccessKey: 'S3CR3T-top', body: { password: 'S3CR3T-body' }, a: { b: { accessKeyId: 'AKIAS3CR3TDEEP000000' } } });
    log.info({ req: { headers: { authorization: 'Bearer kt_S3CR3T' } } }, 'request');
    const out = lines.join('');
    expect(out).not.toMatch(/S3CR3T/);
    expect(out.match(/\[redacted\]/g)).toHaveLength(4);
  });

  it('redacts every secret type’s fields (from the type definitions), at each depth', () => {
    expect(allSecretFieldNames().length).toBeGreaterThan(0);
    for (const f of allSecretFieldNames()) expect(REDACT_PATHS).toEqual(expect.arrayContaining([f, `*.${f}`, `*.*.${f}`]));
  });
});

describe('PinoNestLogger', () => {
  const collect = (level: string) => {
    const lines: Record<string, unknown>[] = [];
    const sink = new Writable({
      write(chunk, _enc, cb) {
        lines.push(JSON.parse(String(chunk)));
        cb();
      },
    });
    return { lines, logger: new PinoNestLogger(pino({ level }, sink)) };
  };

  it('writes Nest’s start-up chatter (module wiring, route mappings) at debug, and the app’s own lines at info', () => {
    const { lines, logger } = collect('info');
    logger.log('Starting Nest application...', 'NestFactory');
    logger.log('ConfigModule dependencies initialized', 'InstanceLoader');
    logger.log('SecretsController {/v1/secrets}:', 'RoutesResolver');
    logger.log('Mapped {/v1/secrets, POST} route', 'RouterExplorer');
    logger.log('Nest application successfully started', 'NestApplication');
    logger.log('listening on http://127.0.0.1:8080', 'SecretsApi');
    expect(lines.map((l) => l.msg)).toEqual(['listening on http://127.0.0.1:8080']);
  });

  it('still shows that chatter at debug, and never hides a framework warning', () => {
    const { lines, logger } = collect('debug');
    logger.log('Mapped {/v1/secrets, POST} route', 'RouterExplorer');
    logger.warn('something odd', 'InstanceLoader');
    expect(lines.map((l) => [l.level, l.msg])).toEqual([
      [20, 'Mapped {/v1/secrets, POST} route'],
      [40, 'something odd'],
    ]);
  });
});

describe('pretty logs in development at a terminal', () => {
  it('only outside production and only when stdout is a TTY', () => {
    expect(usePrettyLogs('development', { isTTY: true })).toBe(true);
    expect(usePrettyLogs('test', { isTTY: true })).toBe(true);
    expect(usePrettyLogs(undefined, { isTTY: true })).toBe(true);
    expect(usePrettyLogs('production', { isTTY: true })).toBe(false);
    expect(usePrettyLogs('development', { isTTY: false })).toBe(false);
    expect(usePrettyLogs('development', {})).toBe(false);
  });

  it('redacts before pretty-printing: key material never reaches the terminal either', async () => {
    const writes: string[] = [];
    const destination = new Writable({
      write(chunk, _enc, cb) {
        writes.push(String(chunk));
        cb();
      },
    });
    const log = createLogger({ level: 'info', app: 'test', pretty: true, destination });
    log.info({ secretAccessKey: 'S3CR3T-pretty', body: { password: 'S3CR3T-nested' } }, 'stored a key');
    await new Promise((r) => setImmediate(r));
    const out = writes.join('');
    expect(out).toContain('stored a key');
    expect(out).not.toMatch(/S3CR3T/);
    expect(out).toContain('[redacted]');
    expect(out).not.toMatch(/^\{/m);
  });
});
