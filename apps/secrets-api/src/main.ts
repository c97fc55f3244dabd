import 'reflect-metadata';
import { Logger } from '@nestjs/common';
import { exitOnStartupError, listenStartupError, loadConfigOrExit, showsStacks } from '@keyturn/config';
import { initMetrics } from '@keyturn/metrics';
import { exitOnKeyMismatch } from '@keyturn/vault';
import { createApi } from './bootstrap.js';

const config = loadConfigOrExit();
// Before anything records: this process's Prometheus registry.
initMetrics('secrets-api');
// Postgres unreachable or refusing, the port taken, and the like: one line with the fix and a distinct exit code.
const failed = exitOnStartupError('secrets-api', { debug: showsStacks(config.logLevel) });
const { host, port } = config.http;
const app = await createApi(config).catch(exitOnKeyMismatch).catch(failed);
// Nest registers the routes during listen; the hook sees each one. npm start's banner lists the ops endpoints.
const ops: string[] = [];
app.getHttpAdapter().getInstance().addHook('onRoute', (r) => {
  const methods = Array.isArray(r.method) ? r.method : [r.method];
  if (methods.includes('GET') && !/^\/(v\d+|docs)(\/|$)/.test(r.url)) ops.push(r.url);
});
await app.listen({ host, port }).catch((e: unknown) => failed(listenStartupError(e, host, port) ?? e));
new Logger('SecretsApi').log(`ops endpoints: ${ops.join(' ')}`);
new Logger('SecretsApi').log(`listening on http://${host}:${port} (docs at /docs)`);
