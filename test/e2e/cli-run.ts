/** Runs the built CLI (dist/) as an operator would, against a running API; resolves to its exit code and output. */
import { execFile } from 'node:child_process';

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

const CLI = new URL('../../dist/apps/cli/src/main.js', import.meta.url).pathname;

export function operatorCli(apiUrl: string, token: string): (args: string[]) => Promise<CliRun> {
  return (args) =>
    new Promise((resolve) => {
      execFile(process.execPath, [CLI, ...args], { env: { PATH: process.env.PATH ?? '', KEYTURN_URL: apiUrl, KEYTURN_TOKEN: token } }, (err, stdout, stderr) =>
        resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
      );
    });
}
