import { readFileSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

// The IAM emulator (with its fixed root key) and every other test file must
// never reach the production build or the image. These checks read the files
// that decide it, so a later edit that lets test code in fails here.

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const read = (path: string) => readFileSync(join(ROOT, path), 'utf8');
const posix = (path: string) => path.split(sep).join('/');

interface Instruction {
  stage: string;
  op: string;
  args: string[];
}

/** docker/Dockerfile as instructions (continuations joined, comments dropped), each with its stage. */
function dockerfile(): Instruction[] {
  const lines = read('docker/Dockerfile')
    .replace(/\\\r?\n/g, ' ')
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));
  let stage = '';
  return lines.map((line) => {
    const [op, ...args] = line.split(/\s+/);
    if (op!.toUpperCase() === 'FROM') stage = args[2] ?? args[0]!;
    return { stage, op: op!.toUpperCase(), args };
  });
}

/** Where COPY/ADD take files from: every argument but flags and the destination. */
const copySources = (i: Instruction) => i.args.filter((a) => !a.startsWith('--')).slice(0, -1);
const fromStage = (i: Instruction) => i.args.find((a) => a.startsWith('--from='))?.slice('--from='.length);
const TEST_PATH = /^(\.\/)?(test|dist-test)(\/|$)|^\/app\/(test|dist-test)(\/|$)|^\/app\/dist\/test(\/|$)/;

const compiled = new Map<string, { parsed: ts.ParsedCommandLine; files: string[] }>();

/** The files a tsconfig compiles: its own list and everything they import from the repo. */
function compiledFiles(tsconfigPath: string): { parsed: ts.ParsedCommandLine; files: string[] } {
  const known = compiled.get(tsconfigPath);
  if (known) return known;
  const parsed = ts.getParsedCommandLineOfConfigFile(join(ROOT, tsconfigPath), {}, {
    ...ts.sys,
    onUnRecoverableConfigFileDiagnostic: (d) => {
      throw new Error(ts.flattenDiagnosticMessageText(d.messageText, '\n'));
    },
  });
  if (!parsed) throw new Error(`${tsconfigPath} could not be read`);
  const program = ts.createProgram(parsed.fileNames, parsed.options);
  const files = program
    .getSourceFiles()
    .map((f) => f.fileName)
    .filter((f) => !f.includes('/node_modules/') && !f.endsWith('.d.ts'))
    .map((f) => posix(relative(ROOT, f)));
  compiled.set(tsconfigPath, { parsed, files });
  return { parsed, files };
}

const nestCli = JSON.parse(read('nest-cli.json')) as {
  compilerOptions: { tsConfigPath: string };
  projects: Record<string, { compilerOptions?: { tsConfigPath?: string }; entryFile: string; type: string }>;
};
const buildConfigs = [
  ...new Set([nestCli.compilerOptions.tsConfigPath, ...Object.values(nestCli.projects).map((p) => p.compilerOptions?.tsConfigPath ?? nestCli.compilerOptions.tsConfigPath)]),
];

describe('test code stays out of the production build and image', () => {
  it('docker/Dockerfile copies nothing from test/ (or the whole context) into the build, and never builds the test tools', () => {
    const instructions = dockerfile();
    expect(instructions.filter((i) => i.op === 'FROM').length).toBeGreaterThan(0);
    const copies = instructions.filter((i) => i.op === 'COPY' || i.op === 'ADD');
    expect(copies.length).toBeGreaterThan(0);
    for (const copy of copies) {
      for (const source of copySources(copy)) {
        expect({ instruction: copy.args.join(' '), testCode: TEST_PATH.test(source) }).toEqual({ instruction: copy.args.join(' '), testCode: false });
        if (!fromStage(copy)) expect({ instruction: copy.args.join(' '), wholeContext: ['.', './'].includes(source) }).toEqual({ instruction: copy.args.join(' '), wholeContext: false });
      }
    }
    for (const run of instructions.filter((i) => i.op === 'RUN' || i.op === 'CMD' || i.op === 'ENTRYPOINT')) {
      expect(run.args.join(' ')).not.toMatch(/build:test-tools|tsconfig\.test-tools|iam-emulator|dist-test|test\//);
    }
    expect(read('docker/entrypoint.sh')).not.toMatch(/iam-emulator|dist-test|dist\/test/);
  });

  it('.dockerignore keeps test/ and the test tools build out of the build context as well', () => {
    const ignored = read('.dockerignore').split(/\r?\n/).map((l) => l.trim().replace(/\/$/, ''));
    expect(ignored).toEqual(expect.arrayContaining(['test', 'dist-test']));
  });

  it('the tsconfig of every Nest project compiles no file under test/, not even one an app or lib imports', () => {
    expect(buildConfigs.length).toBeGreaterThan(0);
    for (const config of buildConfigs) {
      const { files } = compiledFiles(config);
      expect(files).toEqual(expect.arrayContaining(['apps/secrets-api/src/main.ts', 'libs/iam/src/aws-iam.adapter.ts']));
      expect({ config, testFiles: files.filter((f) => f.startsWith('test/')) }).toEqual({ config, testFiles: [] });
      expect({ config, specs: files.filter((f) => /\.(e2e-)?spec\.ts$/.test(f)) }).toEqual({ config, specs: [] });
    }
  });

  it('so `npm run build` writes no test/ folder into dist/, only the apps and libs', () => {
    for (const config of buildConfigs) {
      const { parsed, files } = compiledFiles(config);
      const outputs = files.flatMap((f) => ts.getOutputFileNames(parsed, join(ROOT, f), false)).map((f) => posix(relative(ROOT, f)));
      const entries = Object.values(nestCli.projects)
        .filter((p) => p.type === 'application')
        .map((p) => `dist/${p.entryFile}.js`);
      expect(outputs).toEqual(expect.arrayContaining(entries));
      expect(outputs.filter((o) => !/^dist\/(apps|libs)\//.test(o))).toEqual([]);
    }
  });

  it('the emulator has its own build, which `npm run build` and `npm start` do not run and the test tooling does', () => {
    const { scripts } = JSON.parse(read('package.json')) as { scripts: Record<string, string> };
    expect(scripts['build:test-tools']).toMatch(/tsconfig\.test-tools\.json/);
    for (const name of ['build', 'start', 'start:api', 'start:worker', 'start:scheduler', 'migrate', 'cli']) {
      expect({ name, script: scripts[name] }).not.toEqual({ name, script: expect.stringMatching(/test-tools|dist-test|iam-emulator/) });
    }
    for (const name of ['pretest', 'demo', 'iam-emulator']) expect({ name, script: scripts[name] }).toEqual({ name, script: expect.stringContaining('build:test-tools') });
    const { parsed, files } = compiledFiles('tsconfig.test-tools.json');
    expect(files.length).toBeGreaterThan(0);
    expect(files.filter((f) => !f.startsWith('test/iam-emulator/src/'))).toEqual([]);
    expect(files.filter((f) => f.endsWith('.spec.ts'))).toEqual([]);
    const outputs = files.flatMap((f) => ts.getOutputFileNames(parsed, join(ROOT, f), false)).map((f) => posix(relative(ROOT, f)));
    expect(outputs).toContain('dist-test/iam-emulator/src/main.js');
    expect(outputs.filter((o) => !o.startsWith('dist-test/'))).toEqual([]);
  });
});
