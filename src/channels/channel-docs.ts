/**
 * The table of channels in docs/architecture.md ("Channels: one vocabulary"), rendered from the
 * registry by `npm run docs` (scripts/docs.mjs); a test fails when the page is stale.
 */
import { channelRegistry } from './registry.js';

const start = '<!-- channel table: generated from src/channels/registry.ts by `npm run docs` -->\n';
const end = '\n<!-- end of channel table -->';

export function renderChannelTable(): string {
  const code = (s: string) => `\`${s}\``;
  return [
    '| channel | platforms | provider (PUT /v1/providers/…) | content part | target kind | delivery topic | sandbox simulator |',
    '|---|---|---|---|---|---|---|',
    ...channelRegistry.map((c) => `| ${[
      code(c.name), c.platforms.map(code).join(', '), code(c.provider), code(c.part), code(c.targetKind),
      code(`delivery.${c.name}`), code(c.simulator),
    ].join(' | ')} |`),
  ].join('\n');
}

/** The page with its channel table replaced by `table`. */
export function withChannelTable(page: string, table: string): string {
  const a = page.indexOf(start);
  const b = page.indexOf(end, a);
  if (a < 0 || b < 0) throw new Error('docs/architecture.md has lost the markers around its channel table');
  return page.slice(0, a + start.length) + table + page.slice(b);
}
