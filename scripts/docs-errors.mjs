#!/usr/bin/env node
// `npm run docs:errors`: writes docs/errors.md from the error catalogue (libs/contracts/src/errors).
// A unit spec (error-docs.spec.ts) fails while the file is stale.
import { writeFileSync } from 'node:fs';

const { ERROR_DOCS_PATH, renderErrorDocs } = await import('../dist/libs/contracts/src/errors/error-docs.js');
writeFileSync(new URL(`../${ERROR_DOCS_PATH}`, import.meta.url), renderErrorDocs());
console.log(`wrote ${ERROR_DOCS_PATH}`);
