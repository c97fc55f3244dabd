import { fileURLToPath } from 'node:url';
import { ESLint } from 'eslint';

// The import boundaries of docs/architecture.md ("Libraries") are eslint rules
// (eslint.config.mjs). These snippets break each one, so a config edit that
// silently stops a rule from firing fails here, not in a review months later.

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const eslint = new ESLint({ cwd: ROOT });

/** The messages of the boundary rule for `code` as if it were the file at `filePath`. */
async function boundaryMessages(filePath: string, code: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath });
  const fatal = result!.messages.filter((m) => m.fatal);
  if (fatal.length) throw new Error(`${filePath} did not parse: ${fatal.map((m) => m.message).join('; ')}`);
  return result!.messages.filter((m) => m.ruleId === 'no-restricted-imports').map((m) => m.message);
}

describe('import boundaries (eslint no-restricted-imports)', () => {
  describe('apps never import other apps', () => {
    it('a relative import from one app into another is an error', async () => {
      const messages = await boundaryMessages(
        'apps/secrets-api/src/health/x.ts',
        "import { JobProcessor } from '../../../rotation-worker/src/job.processor.js';\nexport const p = JobProcessor;\n",
      );
      expect(messages).toEqual([expect.stringContaining('never import another project by a relative path')]);
    });

    it('so is one that climbs out of a lib into an app', async () => {
      const messages = await boundaryMessages('libs/vault/src/x.ts', "import { AppModule } from '../../../apps/secrets-api/src/app.module.js';\nexport const m = AppModule;\n");
      expect(messages).toEqual([expect.stringContaining('never import another project by a relative path')]);
    });

    it('while relative imports inside one app are fine', async () => {
      await expect(boundaryMessages('apps/secrets-api/src/health/x.ts', "import { UuidParam } from '../common/pipes.js';\nexport const p = UuidParam;\n")).resolves.toEqual([]);
    });
  });

  describe('only libs/iam (and test/, scripts/) import the AWS SDK', () => {
    it.each([
      ['libs/vault/src/x.ts', '@aws-sdk/client-iam'],
      ['libs/rotation/src/scheduling/x.ts', '@aws-sdk/client-sts'],
      ['apps/rotation-worker/src/x.ts', '@smithy/core/retry'],
    ])('%s importing %s is an error', async (filePath, sdk) => {
      const messages = await boundaryMessages(filePath, `import * as sdk from '${sdk}';\nexport const s = sdk;\n`);
      expect(messages).toEqual([expect.stringContaining('Only libs/iam talks to AWS')]);
    });

    it.each(['libs/iam/src/x.ts', 'test/e2e/x.ts', 'scripts/x.mjs'])('%s may import it', async (filePath) => {
      await expect(boundaryMessages(filePath, "import { IAMClient } from '@aws-sdk/client-iam';\nexport const c = IAMClient;\n")).resolves.toEqual([]);
    });
  });

  describe('a lib is imported through its index only', () => {
    it('a path inside a lib through the alias is an error', async () => {
      const messages = await boundaryMessages(
        'apps/rotation-worker/src/x.ts',
        "import { KeyRotationUseCase } from '@keyturn/rotation/src/key-rotation.usecase.js';\nexport const u = KeyRotationUseCase;\n",
      );
      expect(messages).toEqual([expect.stringContaining('through its index')]);
    });

    it('a relative path into another lib is an error', async () => {
      const messages = await boundaryMessages('libs/rotation/src/x.ts', "import { SecretsService } from '../../vault/src/secrets.service.js';\nexport const s = SecretsService;\n");
      expect(messages).toEqual([expect.stringContaining('never import another project by a relative path')]);
    });

    it('the index itself is fine', async () => {
      await expect(boundaryMessages('apps/rotation-worker/src/x.ts', "import { RotationRunner } from '@keyturn/rotation';\nexport const r = RotationRunner;\n")).resolves.toEqual([]);
    });
  });

  describe('libs depend on each other in one direction', () => {
    it('a lib importing a lib above it is an error naming what it may import', async () => {
      const messages = await boundaryMessages('libs/iam/src/x.ts', "import { StoreModule } from '@keyturn/store';\nexport const s = StoreModule;\n");
      expect(messages).toEqual([expect.stringContaining('libs/iam may import only')]);
    });

    it('libs/secret-types (the type definitions) imports only contracts', async () => {
      const messages = await boundaryMessages('libs/secret-types/src/x.ts', "import { StoreModule } from '@keyturn/store';\nexport const s = StoreModule;\n");
      expect(messages).toEqual([expect.stringContaining('libs/secret-types may import only @keyturn/contracts')]);
      await expect(boundaryMessages('libs/logging/src/x.ts', "import { allSecretFieldNames } from '@keyturn/secret-types';\nexport const f = allSecretFieldNames;\n")).resolves.toEqual([]);
    });

    it('libs/secrets (the API use cases) never imports the worker’s libs/rotation', async () => {
      const messages = await boundaryMessages('libs/secrets/src/x.ts', "import { RotationRunner } from '@keyturn/rotation';\nexport const r = RotationRunner;\n");
      expect(messages).toEqual([expect.stringContaining('libs/secrets may import only')]);
    });

    it('libs/metrics sits just above contracts: the IAM adapter and the pacer record through it, and it imports no other lib', async () => {
      await expect(boundaryMessages('libs/iam/src/x.ts', "import { metrics } from '@keyturn/metrics';\nexport const m = metrics;\n")).resolves.toEqual([]);
      await expect(boundaryMessages('libs/queue/src/x.ts', "import { metrics } from '@keyturn/metrics';\nexport const m = metrics;\n")).resolves.toEqual([]);
      const messages = await boundaryMessages('libs/metrics/src/x.ts', "import { loadConfig } from '@keyturn/config';\nexport const c = loadConfig;\n");
      expect(messages).toEqual([expect.stringContaining('libs/metrics may import only @keyturn/contracts')]);
    });

    it('libs/ops (listener, scrape-time numbers) reads queues and metrics, never the rotation use cases', async () => {
      await expect(boundaryMessages('libs/ops/src/x.ts', "import { JobProducer } from '@keyturn/queue';\nexport const j = JobProducer;\n")).resolves.toEqual([]);
      const messages = await boundaryMessages('libs/ops/src/x.ts', "import { RotationRunner } from '@keyturn/rotation';\nexport const r = RotationRunner;\n");
      expect(messages).toEqual([expect.stringContaining('libs/ops may import only')]);
    });

    it('libs/contracts imports no framework', async () => {
      const messages = await boundaryMessages('libs/contracts/src/x.ts', "import { HttpStatus } from '@nestjs/common';\nexport const s = HttpStatus.OK;\n");
      expect(messages).toEqual([expect.stringContaining('libs/contracts holds plain types and constants')]);
    });
  });

  describe('production code never imports test code', () => {
    it('a spec may use the IAM emulator from test/', async () => {
      await expect(
        boundaryMessages('libs/iam/src/x.spec.ts', "import { startIamEmulator } from '../../../test/iam-emulator/src/index.js';\nexport const s = startIamEmulator;\n"),
      ).resolves.toEqual([]);
    });

    it('the code beside it may not', async () => {
      const messages = await boundaryMessages('libs/iam/src/x.ts', "import { startIamEmulator } from '../../../test/iam-emulator/src/index.js';\nexport const s = startIamEmulator;\n");
      expect(messages).toEqual([expect.stringContaining('never import another project by a relative path')]);
    });
  });

  describe('the worker side reaches Postgres only through libs/store repositories', () => {
    it.each([
      ['libs/rotation/src/access-key/x.ts', 'typeorm'],
      ['libs/heartbeat/src/x.ts', '@nestjs/typeorm'],
      ['libs/scheduling/src/x.ts', 'typeorm'],
      ['libs/events/src/x.ts', 'typeorm/query-builder/QueryPartialEntity.js'],
      ['libs/secrets/src/secrets/x.ts', 'typeorm'],
    ])('%s importing %s is an error', async (filePath, mod) => {
      const messages = await boundaryMessages(filePath, `import * as orm from '${mod}';\nexport const o = orm;\n`);
      expect(messages).toEqual([expect.stringContaining('through the repositories of @keyturn/store')]);
    });

    it('libs/store may', async () => {
      await expect(boundaryMessages('libs/store/src/repositories/x.ts', "import { In } from 'typeorm';\nexport const i = In;\n")).resolves.toEqual([]);
    });

    it('a worker spec may use the in-memory fakes of test/unit-fakes', async () => {
      await expect(
        boundaryMessages('libs/rotation/src/access-key/x.spec.ts', "import { WorkerWorld } from '../../../../test/unit-fakes/worker.fixture.js';\nexport const w = WorkerWorld;\n"),
      ).resolves.toEqual([]);
    });
  });

  describe('the libs split out of libs/rotation keep their direction', () => {
    it('libs/rotation may not import the heartbeat, scheduling or events libs', async () => {
      for (const lib of ['heartbeat', 'scheduling', 'events']) {
        const messages = await boundaryMessages('libs/rotation/src/x.ts', `import * as l from '@keyturn/${lib}';\nexport const m = l;\n`);
        expect(messages).toEqual([expect.stringContaining('libs/rotation may import only')]);
      }
    });

    it('libs/events imports no protocol', async () => {
      const messages = await boundaryMessages('libs/events/src/x.ts', "import { RotationRunner } from '@keyturn/rotation';\nexport const r = RotationRunner;\n");
      expect(messages).toEqual([expect.stringContaining('libs/events may import only')]);
    });
  });
});
