import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

// In apps/, a file's name says the role of what it holds (kebab-case.<role>.ts),
// and a controller has a file of its own. In the libs listed in NAMED_LIBS the
// same holds for injectables and modules, one injectable per file; the other
// libs join the list as they are renamed.

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

/** Libs whose files already follow the rule (the worker side and libs/store). */
const NAMED_LIBS = ['libs/rotation', 'libs/heartbeat', 'libs/scheduling', 'libs/events', 'libs/store'];

describe('names in the worker-side libs say the role', () => {
  const files = NAMED_LIBS.flatMap((lib) => sourceFiles(lib));

  it('finds them', () => {
    expect(files).toEqual(
      expect.arrayContaining([
        'libs/rotation/src/access-key/key-rotation.usecase.ts',
        'libs/heartbeat/src/heartbeat.usecase.ts',
        'libs/store/src/repositories/rotations.repository.ts',
        'libs/events/src/webhook-dispatcher.service.ts',
      ]),
    );
  });

  it('every injectable lives in a file named for its role, and a module in a *.module.ts', () => {
    const misnamed: { file: string; decorator: string }[] = [];
    for (const file of files) {
      const text = readFileSync(join(ROOT, file), 'utf8');
      if (/^@Injectable\(/m.test(text) && !ROLES.Injectable.test(file)) misnamed.push({ file, decorator: 'Injectable' });
      if (/^@Module\(/m.test(text) && !/\.module\.ts$/.test(file)) misnamed.push({ file, decorator: 'Module' });
    }
    expect(misnamed).toEqual([]);
  });

  it('one injectable per file', () => {
    const crowded = files
      .map((file) => ({ file, injectables: (readFileSync(join(ROOT, file), 'utf8').match(/^@Injectable\(/gm) ?? []).length }))
      .filter((f) => f.injectables > 1);
    expect(crowded).toEqual([]);
  });

  it('a repository class lives in a *.repository.ts of libs/store/src/repositories', () => {
    const stray = files.filter((file) => /^export class \w+Repository\b/m.test(readFileSync(join(ROOT, file), 'utf8')) && !/^libs\/store\/src\/repositories\/[a-z-]+\.repository\.ts$/.test(file));
    expect(stray).toEqual([]);
  });
});
