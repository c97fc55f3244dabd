import 'reflect-metadata';
import { Logger } from '@nestjs/common';
import { loadConfigOrExit } from '@keyturn/config';
import { exitOnKeyMismatch } from '@keyturn/vault';
import { createApi } from './bootstrap.js';

const config = loadConfigOrExit();
const app = await createApi(config).catch(exitOnKeyMismatch);
await app.listen({ host: config.http.host, port: config.http.port });
new Logger('SecretsApi').log(`listening on http://${config.http.host}:${config.http.port} (docs at /docs)`);
