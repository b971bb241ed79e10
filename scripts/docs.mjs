// Writes the documentation generated from code: docs/api-errors.md from the error catalogue.
// Tests fail when a generated page is stale, so run this (`npm run docs`) after changing its source.
import { writeFile } from 'node:fs/promises';
import { renderErrorDocs } from '../dist/src/api/error-docs.js';

await writeFile(new URL('../docs/api-errors.md', import.meta.url), renderErrorDocs());
console.log('wrote docs/api-errors.md');
