import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

// In apps/, a file's name says the role of what it holds (kebab-case.<role>.ts),
// and a controller has a file of its own. (libs/ are renamed by a later restructure.)

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

function sourceFiles(dir: string): string[] {
  return readdirSync(join(ROOT, dir), { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && e.name.endsWith('.ts') && !/\.(e2e-)?spec\.ts$/.test(e.name))
    .map((e) => relative(ROOT, join(e.parentPath, e.name)));
}

/** The role suffixes an injectable's file may have, by the decorator it carries. */
const ROLES: Record<string, RegExp> = {
  Controller: /\.controller\.ts$/,
  Catch: /\.filter\.ts$/,
  Injectable: /\.(service|usecase|repository|guard|interceptor|filter|pipe|processor)\.ts$/,
};

describe('names in apps/ say the role', () => {
  const files = sourceFiles('apps');

  it('finds the apps', () => {
    expect(files).toEqual(expect.arrayContaining(['apps/secrets-api/src/main.ts', 'apps/rotation-worker/src/job.processor.ts']));
  });

  it('every controller has a file of its own', () => {
    const crowded = files
      .map((file) => ({ file, controllers: (readFileSync(join(ROOT, file), 'utf8').match(/^@Controller\(/gm) ?? []).length }))
      .filter((f) => f.controllers > 1);
    expect(crowded).toEqual([]);
  });

  it('every injectable, controller and filter lives in a file named for its role', () => {
    const misnamed: { file: string; decorator: string }[] = [];
    for (const file of files) {
      const text = readFileSync(join(ROOT, file), 'utf8');
      for (const [decorator, role] of Object.entries(ROLES)) {
        if (new RegExp(`^@${decorator}\\(`, 'm').test(text) && !role.test(file)) misnamed.push({ file, decorator });
      }
    }
    expect(misnamed).toEqual([]);
  });
});
