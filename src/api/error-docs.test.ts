import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { packageRoot } from '../paths.js';
import { join } from 'node:path';
import { renderErrorDocs } from './error-docs.js';
import { errorCatalogue } from './errors.js';

test('docs/api-errors.md is the catalogue as rendered (run `npm run docs` after changing src/api/errors.ts)', async () => {
  const onDisk = await readFile(join(packageRoot, 'docs/api-errors.md'), 'utf8');
  assert.equal(onDisk, renderErrorDocs());
  for (const code of Object.keys(errorCatalogue)) assert.ok(onDisk.includes(`| \`${code}\` |`), code);
});
