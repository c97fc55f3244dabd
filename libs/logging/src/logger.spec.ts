import { Writable } from 'node:stream';
import { pino } from 'pino';
import { REDACT_PATHS } from '@keyturn/logging';

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
});
