import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { packageRoot } from '../paths.js';
import { renderChannelTable, withChannelTable } from './channel-docs.js';
import { channelRegistry } from './registry.js';

test('docs/architecture.md\'s channel table is the registry as rendered (run `npm run docs` after changing src/channels/)', async () => {
  const onDisk = await readFile(join(packageRoot, 'docs/architecture.md'), 'utf8');
  assert.equal(onDisk, withChannelTable(onDisk, renderChannelTable()));
  for (const c of channelRegistry) assert.ok(onDisk.includes(`| \`${c.name}\` |`), c.name);
});
