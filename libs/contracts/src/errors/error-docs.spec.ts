import { readFileSync } from 'node:fs';
import { ERRORS, WARNINGS } from '@keyturn/contracts';
import { ERROR_DOCS_PATH, renderErrorDocs } from './error-docs.js';

const root = new URL('../../../../', import.meta.url);
const read = (path: string) => readFileSync(new URL(path, root), 'utf8');

describe('docs/errors.md', () => {
  it('is what `npm run docs:errors` writes from the catalogue (run it after changing an error)', () => {
    expect(read(ERROR_DOCS_PATH)).toBe(renderErrorDocs());
  });

  it('lists every error and warning code exactly once as a table row', () => {
    const doc = renderErrorDocs();
    for (const code of [...Object.keys(ERRORS), ...Object.keys(WARNINGS)]) {
      const rows = doc.split('\n').filter((line) => line.startsWith(`| \`${code}\` |`));
      expect([code, rows.length]).toEqual([code, code === 'CURRENT_KEY_INVALID' ? 2 : 1]);
    }
  });

  it('is linked from the README', () => {
    expect(read('README.md')).toContain(`(${ERROR_DOCS_PATH})`);
  });
});
