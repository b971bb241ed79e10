// Writes the documentation generated from code: docs/api-errors.md from the error catalogue, and
// the README's configuration table from the config's options.
// Tests fail when a generated page is stale, so run this (`npm run docs`) after changing its source.
import { readFile, writeFile } from 'node:fs/promises';
import { renderErrorDocs } from '../dist/src/api/error-docs.js';
import { renderConfigTable } from '../dist/src/config.js';
import { withConfigTable } from '../dist/src/config-docs.js';

await writeFile(new URL('../docs/api-errors.md', import.meta.url), renderErrorDocs());
const readme = new URL('../README.md', import.meta.url);
await writeFile(readme, withConfigTable(await readFile(readme, 'utf8'), renderConfigTable()));
console.log('wrote docs/api-errors.md and the README\'s configuration table');
