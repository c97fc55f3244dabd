import { readdirSync } from 'node:fs';
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

// ---------------------------------------------------------------- import boundaries
// docs/architecture.md ("Libraries") describes these; test/repo/import-boundaries.spec.ts
// proves each one still fires.

/**
 * The libs each lib may import (besides itself). Apps may import every lib, and
 * nothing imports an app. Dependencies point one way, towards contracts.
 */
const LIB_DEPENDENCIES = {
  contracts: [],
  // The registry and its recorders only: anything that records (the IAM adapter, the pacer) may import it.
  metrics: ['contracts'],
  config: ['contracts'],
  'secret-types': ['contracts'],
  logging: ['contracts', 'config', 'secret-types'],
  crypto: ['contracts'],
  iam: ['contracts', 'logging', 'metrics'],
  store: ['contracts', 'config', 'logging'],
  queue: ['contracts', 'config', 'logging', 'metrics'],
  // The ops listener (health, readiness, /metrics) and the scrape-time numbers read from Postgres and Redis.
  ops: ['contracts', 'config', 'logging', 'queue', 'metrics'],
  vault: ['contracts', 'config', 'logging', 'crypto', 'store'],
  auth: ['contracts', 'config', 'logging', 'crypto', 'store', 'queue'],
  secrets: ['contracts', 'config', 'logging', 'crypto', 'store', 'queue', 'iam', 'vault', 'auth', 'secret-types'],
  events: ['contracts', 'config', 'logging', 'store', 'metrics'],
  rotation: ['contracts', 'config', 'logging', 'crypto', 'store', 'queue', 'iam', 'vault', 'auth', 'secret-types', 'metrics'],
  heartbeat: ['contracts', 'config', 'logging', 'store', 'iam', 'vault', 'auth', 'rotation', 'secret-types', 'metrics'],
  scheduling: ['contracts', 'config', 'logging', 'store', 'queue', 'vault', 'secrets', 'secret-types', 'events'],
};

const folders = (dir) =>
  readdirSync(new URL(`./${dir}/`, import.meta.url), { withFileTypes: true })
    .filter((d) => d.isDirectory())
    .map((d) => d.name);
const APPS = folders('apps');
const LIBS = folders('libs');
const unmapped = LIBS.filter((lib) => !(lib in LIB_DEPENDENCIES));
if (unmapped.length) {
  throw new Error(`eslint.config.mjs: add libs/${unmapped.join(', libs/')} to LIB_DEPENDENCIES (and to docs/architecture.md, "Libraries")`);
}

/** Deep enough for every folder in apps/ and libs/ today, with room to grow. */
const MAX_DEPTH = 8;
const SPEC_FILES = ['**/*.spec.ts', '**/*.e2e-spec.ts'];

const THROUGH_INDEX = {
  regex: '^@keyturn/[^/]+/',
  message: 'Import a lib through its index (@keyturn/<lib>), never a path inside it; export what you need from its index.ts.',
};
const NO_AWS_SDK = {
  regex: '^@(aws-sdk|smithy)/',
  message: 'Only libs/iam talks to AWS: use the IamClient port from @keyturn/iam (add a method there if one is missing).',
};
const NO_FRAMEWORK = {
  regex: '^(@nestjs/|typeorm$|bullmq$|ioredis$|pg$)',
  message: 'libs/contracts holds plain types and constants shared by every process: no framework imports.',
};
const NO_TYPEORM = {
  regex: '^(typeorm|@nestjs/typeorm)(/|$)',
  message: 'Postgres is reached through the repositories of @keyturn/store (libs/store/src/repositories, bound in StoreModule): add a method there.',
};
/** Libs that reach Postgres only through libs/store's repositories (the others still use TypeORM directly). */
const TYPEORM_FREE = ['contracts', 'config', 'logging', 'crypto', 'iam', 'queue', 'secret-types', 'secrets', 'rotation', 'heartbeat', 'scheduling', 'events'];
const escapeProject = (regex) => ({
  regex,
  message:
    'Apps and libs never import another project by a relative path: import a lib as @keyturn/<lib>. Apps never import apps, and code outside specs never imports test/.',
});

/**
 * `no-restricted-imports` for every file of one app or lib. A relative import
 * may not climb out of the project; a file `depth` folders below the project
 * root climbs out with depth + 1 `../`, and reaches the repository root with
 * depth + 2, where specs (only) may go on into test/ for the emulator and fixtures.
 */
function boundaries(kind, name) {
  const root = `${kind}/${name}`;
  const common = [THROUGH_INDEX];
  if (!(kind === 'libs' && name === 'iam')) common.push(NO_AWS_SDK);
  if (kind === 'libs' && name === 'contracts') common.push(NO_FRAMEWORK);
  if (kind === 'libs') {
    const allowed = LIB_DEPENDENCIES[name];
    const forbidden = LIBS.filter((lib) => lib !== name && !allowed.includes(lib));
    if (forbidden.length) {
      common.push({
        regex: `^@keyturn/(${forbidden.join('|')})$`,
        message: `libs/${name} may import only ${allowed.length ? allowed.map((l) => `@keyturn/${l}`).join(', ') : 'no other lib'}: dependencies point towards contracts (docs/architecture.md, "Libraries").`,
      });
    }
  }
  const typeormFree = kind === 'libs' && TYPEORM_FREE.includes(name);
  const configs = [];
  for (let depth = 0; depth <= MAX_DEPTH; depth++) {
    const dir = `${root}/${'*/'.repeat(depth)}`;
    const out = `(\\.\\./){${depth + 1}}`;
    configs.push(
      {
        files: [`${dir}*.{ts,mts,cts,js,mjs,cjs}`],
        ignores: SPEC_FILES,
        rules: { 'no-restricted-imports': ['error', { patterns: [...common, ...(typeormFree ? [NO_TYPEORM] : []), escapeProject(`^${out}`)] }] },
      },
      {
        files: SPEC_FILES.map((glob) => `${dir}${glob.slice('**/'.length)}`),
        rules: { 'no-restricted-imports': ['error', { patterns: [...common, escapeProject(`^(?!(\\.\\./){${depth + 2}}test/)${out}`)] }] },
      },
    );
  }
  return configs;
}

export default tseslint.config(
  { ignores: ['dist/**', 'dist-test/**', 'node_modules/**', 'coverage/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { process: 'readonly', Buffer: 'readonly', console: 'readonly', setTimeout: 'readonly', clearTimeout: 'readonly', setInterval: 'readonly', clearInterval: 'readonly', URL: 'readonly', NodeJS: 'readonly', AbortController: 'readonly', AbortSignal: 'readonly', fetch: 'readonly', setImmediate: 'readonly', performance: 'readonly', Headers: 'readonly' } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      // Logs go through the pino logger, which redacts secrets.
      'no-console': 'error',
      // Input validation matches control characters on purpose (to refuse them, or as AWS allows them).
      'no-control-regex': 'off',
    },
  },
  {
    files: ['**/*.spec.ts', '**/*.e2e-spec.ts', 'test/**', 'scripts/**'],
    // Tests read JSON bodies of many shapes.
    rules: { 'no-console': 'off', '@typescript-eslint/no-non-null-assertion': 'off', '@typescript-eslint/no-explicit-any': 'off' },
  },
  ...APPS.flatMap((app) => boundaries('apps', app)),
  ...LIBS.flatMap((lib) => boundaries('libs', lib)),
);
