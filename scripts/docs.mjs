// Writes the documentation generated from code: docs/api-errors.md from the error catalogue, the
// README's configuration table from the config's options, and docs/architecture.md's channel table
// from the channel registry.
// Tests fail when a generated page is stale, so run this (`npm run docs`) after changing its source.
import { readFile, writeFile } from 'node:fs/promises';
import { renderErrorDocs } from '../dist/src/api/error-docs.js';
import { renderConfigTable } from '../dist/src/config.js';
import { withConfigTable } from '../dist/src/config-docs.js';
import { renderChannelTable, withChannelTable } from '../dist/src/channels/channel-docs.js';

await writeFile(new URL('../docs/api-errors.md', import.meta.url), renderErrorDocs());
const readme = new URL('../README.md', import.meta.url);
await writeFile(readme, withConfigTable(await readFile(readme, 'utf8'), renderConfigTable()));
const architecture = new URL('../docs/architecture.md', import.meta.url);
await writeFile(architecture, withChannelTable(await readFile(architecture, 'utf8'), renderChannelTable()));
console.log('wrote docs/api-errors.md, the README\'s configuration table and docs/architecture.md\'s channel table');
