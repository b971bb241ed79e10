/**
 * The Node SDK's committed API types (sdk/node/src/openapi.d.ts) are those of the API as it is:
 * regenerated from the OpenAPI document and compared. When a route changes, regenerate them with
 * `node sdk/node/build.mjs --types` (after `npm run build`) and commit the result.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { packageRoot } from '../../src/paths.js';

test('the Node SDK\'s types are generated from the current OpenAPI document', async () => {
  const { generateTypes, typesFile } = (await import(pathToFileURL(join(packageRoot, 'sdk/node/generate-types.mjs')).href)) as {
    generateTypes(): Promise<string>; typesFile: string;
  };
  const committed = await readFile(typesFile, 'utf8');
  const fresh = await generateTypes();
  assert.ok(committed === fresh, 'sdk/node/src/openapi.d.ts is stale: run `node sdk/node/build.mjs --types` and commit it');
});
