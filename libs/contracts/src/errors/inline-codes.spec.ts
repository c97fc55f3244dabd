import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ERRORS, WARNINGS } from '@keyturn/contracts';

const root = fileURLToPath(new URL('../../../../', import.meta.url));

/** Where a code may be spelled out: the catalogues, and migrations (they record what was written then). */
const ALLOWED = [/^libs\/contracts\/src\/errors\/(error|warning)-catalogue\.ts$/, /^libs\/store\/src\/migrations\//];

function sources(dir: string): string[] {
  return readdirSync(join(root, dir), { withFileTypes: true }).flatMap((d) => {
    const path = `${dir}/${d.name}`;
    if (d.isDirectory()) return d.name === 'node_modules' ? [] : sources(path);
    return d.name.endsWith('.ts') && !d.name.endsWith('.spec.ts') ? [path] : [];
  });
}

describe('error codes are never inline strings', () => {
  it('apps/ and libs/ spell codes only through ErrorCode / WarningCode', () => {
    const codes = new Set([...Object.keys(ERRORS), ...Object.keys(WARNINGS)]);
    const found: string[] = [];
    for (const file of [...sources('apps'), ...sources('libs')]) {
      const rel = relative(root, join(root, file));
      if (ALLOWED.some((a) => a.test(rel))) continue;
      const text = readFileSync(join(root, file), 'utf8');
      for (const m of text.matchAll(/(['"`])([A-Z][A-Z0-9]*(?:_[A-Z0-9]+)*)\1/g)) {
        if (codes.has(m[2])) found.push(`${rel}: ${m[0]}`);
      }
    }
    expect(found).toEqual([]);
  });
});
