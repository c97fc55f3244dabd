import { DEFAULT_ACCOUNT_ID, DEFAULT_ROOT_ACCESS_KEY_ID, DEFAULT_ROOT_SECRET_ACCESS_KEY, startIamEmulator } from './index.js';

/** Standalone entry point: `npm run iam-emulator`. */
async function main(): Promise<void> {
  const port = Number(process.env.IAM_EMULATOR_PORT ?? 4599);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    process.stderr.write(`IAM_EMULATOR_PORT must be a port number, got ${process.env.IAM_EMULATOR_PORT}\n`);
    process.exit(1);
  }
  const emulator = await startIamEmulator({
    port,
    host: process.env.IAM_EMULATOR_HOST ?? '127.0.0.1',
    accountId: process.env.IAM_EMULATOR_ACCOUNT_ID ?? DEFAULT_ACCOUNT_ID,
    rootAccessKeyId: process.env.IAM_EMULATOR_ROOT_ACCESS_KEY_ID ?? DEFAULT_ROOT_ACCESS_KEY_ID,
    rootSecretAccessKey: process.env.IAM_EMULATOR_ROOT_SECRET_ACCESS_KEY ?? DEFAULT_ROOT_SECRET_ACCESS_KEY,
  });
  // The root key id is printed so a developer can configure a client; the secret never is.
  process.stdout.write(
    `IAM emulator listening on ${emulator.url} (account ${emulator.accountId}, root key ${emulator.rootCredentials.accessKeyId})\n`,
  );
  const stop = () => {
    emulator.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

main().catch((err: unknown) => {
  process.stderr.write(`IAM emulator failed to start: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
