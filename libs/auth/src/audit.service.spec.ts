import type { AuditEventsRepository } from '@keyturn/store';
import { AuditService } from '@keyturn/auth';

describe('audit writes', () => {
  it('store client-supplied text Postgres cannot hold (NUL, unpaired surrogates) in a form it can, instead of failing', async () => {
    const inserted: Record<string, unknown>[] = [];
    const appender = { insert: async (row: Record<string, unknown>) => void inserted.push(row) } as unknown as AuditEventsRepository;
    // Recording never reads: the query repository is not needed here.
    const audit = new AuditService(undefined as never, appender);
    await audit.record(
      { id: 'key\u0000id', name: 'n\u0000', roles: [], folderScopes: [], requestId: 'req\u0000\ud800' },
      {
        action: 'secret.value.read',
        outcome: 'failure',
        targetType: 'secret',
        targetId: '\u0000',
        ip: '10.0.0.1',
        details: { fields: ['a\u0000', '\udc00b'], 'k\u0000': { deeper: ['\u0000'] } },
      },
    );
    expect(inserted).toHaveLength(1);
    const text = JSON.stringify(inserted[0]);
    expect(text).not.toMatch(/\\u0000|\\ud800|\\udc00/);
    expect(inserted[0]).toEqual(
      expect.objectContaining({
        actorId: 'key\ufffdid',
        actorName: 'n\ufffd',
        requestId: 'req\ufffd\ufffd',
        targetId: '\ufffd',
        details: { fields: ['a\ufffd', '\ufffdb'], 'k\ufffd': { deeper: ['\ufffd'] } },
      }),
    );
  });
});
