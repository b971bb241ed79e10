/** Where the README keeps its configuration table, which `npm run docs` renders from src/config.ts. */
const start = '<!-- config table: generated from src/config.ts by `npm run docs` -->\n';
const end = '\n<!-- end of config table -->';

/** The README with its configuration table replaced by `table`. */
export function withConfigTable(readme: string, table: string): string {
  const a = readme.indexOf(start);
  const b = readme.indexOf(end, a);
  if (a < 0 || b < 0) throw new Error('README.md has lost the markers around its configuration table');
  return readme.slice(0, a + start.length) + table + readme.slice(b);
}
