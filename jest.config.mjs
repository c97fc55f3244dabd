// Two projects: `unit` (specs beside the code, ports faked) and `e2e` (whole
// system against the machine's Postgres and Redis and the IAM emulator).
// Nest 12 ships as ES modules, and Node 20's Jest cannot require() them, so the
// suite runs as ESM (`--experimental-vm-modules`, see package.json).
import { readFileSync } from 'node:fs';

const { compilerOptions } = JSON.parse(readFileSync(new URL('./tsconfig.json', import.meta.url), 'utf8'));
const moduleNameMapper = { '^(\\.{1,2}/.*)\\.js$': '$1' };
for (const [alias, [target]] of Object.entries(compilerOptions.paths)) {
  moduleNameMapper[`^${alias}$`] = `<rootDir>/${target.replace(/^\.\//, '')}`;
}

const common = {
  rootDir: '.',
  testEnvironment: 'node',
  extensionsToTreatAsEsm: ['.ts'],
  moduleFileExtensions: ['ts', 'js', 'json'],
  moduleNameMapper,
  transform: { '^.+\\.ts$': ['ts-jest', { useESM: true, tsconfig: '<rootDir>/tsconfig.json' }] },
  modulePathIgnorePatterns: ['<rootDir>/dist/', '<rootDir>/dist-test/'],
};

export default {
  projects: [
    { ...common, displayName: 'unit', testMatch: ['<rootDir>/{apps,libs,test/iam-emulator,test/repo}/**/*.spec.ts'] },
    { ...common, displayName: 'e2e', testMatch: ['<rootDir>/test/e2e/**/*.e2e-spec.ts'], setupFilesAfterEnv: ['<rootDir>/test/e2e/setup.ts'] },
  ],
};
