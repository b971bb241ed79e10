/**
 * docs/api-errors.md, rendered from the error catalogue: `npm run docs` writes it, and a test fails
 * when the file and the catalogue differ, so the page can never drift from what the API answers.
 */
import { errorCatalogue } from './errors.js';

export function renderErrorDocs(): string {
  const rows = Object.entries(errorCatalogue)
    .sort(([a, x], [b, y]) => x.status - y.status || a.localeCompare(b))
    .map(([code, e]) => `| \`${code}\` | ${e.status} | ${e.meaning.replace(/\|/g, '\\|')} |`);
  return [
    '# API errors',
    '',
    '<!-- Generated from src/api/errors.ts by `npm run docs`; do not edit by hand. -->',
    '',
    'Every error Herald\'s API answers has the same body, whatever the route:',
    '',
    '```json',
    '{"error": {"code": "invalid_field", "message": "push.title must NOT have more than 1024 characters"}}',
    '```',
    '',
    '`code` is stable: program against it. `message` is for people: it names the field or the limit,',
    'and may change wording. A 4xx changed nothing; retry a 429 or a 503 after its `Retry-After`.',
    '',
    '| code | status | meaning |',
    '|---|---|---|',
    ...rows,
    '',
  ].join('\n');
}
