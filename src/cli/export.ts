/**
 * herald export KIND [--format csv|ndjson] [--out FILE] [--segment ID] [--campaign ID]
 *   [--attributes a,b] [--names a,b] [--from ISO] [--to ISO]: asks a running Herald for an export
 * (POST /v1/exports, docs/exports.md), follows its progress (a bar on a terminal, a line per change
 * otherwise), and streams the file through its signed link to FILE (default: the name Herald gives
 * it, in the current folder; - for standard output). Exits 1 when the export failed.
 */
import { createWriteStream } from 'node:fs';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { ConfigError } from '../config.js';
import { call, request, restSettings } from './rest.js';

export interface ExportOptions {
  url: string | undefined;
  apiKey: string | undefined;
  format?: string | undefined;
  out?: string | undefined;
  segment?: string | undefined;
  campaign?: string | undefined;
  attributes?: string | undefined;
  names?: string | undefined;
  from?: string | undefined;
  to?: string | undefined;
  /** Where progress goes, and whether it is a terminal. */
  progress?: NodeJS.WriteStream | { write(s: string): boolean; isTTY?: boolean };
  pollMs?: number;
}

interface ExportView {
  id: string;
  kind: string;
  format: string;
  state: 'running' | 'done' | 'failed' | 'expired';
  rows: number;
  total: number | null;
  error: string | null;
  download: { url: string } | null;
}

/** `export E: running, 5000 of 25000 rows (20%)`. */
function progressOf(e: ExportView): string {
  const of = e.total === null ? '' : ` of ${e.total}`;
  const pct = e.total ? ` (${Math.floor((100 * e.rows) / e.total)}%)` : '';
  return `export ${e.id}: ${e.state}, ${e.rows}${of} rows${pct}`;
}

const list = (s: string | undefined) => (s === undefined ? undefined : s.split(',').map((x) => x.trim()).filter(Boolean));

export async function exportCommand(kind: string, o: ExportOptions): Promise<number> {
  const { base, headers } = restSettings(o, 'export');
  const format = o.format ?? 'csv';
  if (format !== 'csv' && format !== 'ndjson') throw new ConfigError(`--format must be csv or ndjson, got "${format}"`);
  const body = {
    kind, format,
    ...(o.segment !== undefined ? { segment_id: o.segment } : {}),
    ...(o.campaign !== undefined ? { campaign_id: o.campaign } : {}),
    ...(o.attributes !== undefined ? { attributes: list(o.attributes) } : {}),
    ...(o.names !== undefined ? { names: list(o.names) } : {}),
    ...(o.from !== undefined ? { from: o.from } : {}),
    ...(o.to !== undefined ? { to: o.to } : {}),
  };
  const progress = o.progress ?? process.stderr;
  let e = await call<ExportView>(base, headers, 'POST', '/v1/exports', { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  let last = '';
  for (;;) {
    const line = progressOf(e);
    if (progress.isTTY) progress.write(`\r${line}`);
    else if (line !== last) progress.write(line + '\n');
    last = line;
    if (e.state !== 'running') break;
    await new Promise((r) => setTimeout(r, o.pollMs ?? 500));
    e = await call<ExportView>(base, headers, 'GET', `/v1/exports/${e.id}`);
  }
  if (progress.isTTY) progress.write('\n');
  if (e.state !== 'done' || !e.download) {
    progress.write(`export ${e.id} ${e.state}${e.error ? `: ${e.error}` : ''}\n`);
    return 1;
  }
  // The link is absolute when Herald knows its public URL; it is fetched from the URL given here.
  const link = new URL(e.download.url, base);
  const res = await request(base, {}, 'GET', link.pathname + link.search);
  const name = /filename="([^"]+)"/.exec(res.headers.get('content-disposition') ?? '')?.[1] ?? `herald-export-${e.id}.${format}`;
  const target = o.out ?? name;
  await pipeline(Readable.fromWeb(res.body as import('node:stream/web').ReadableStream), target === '-' ? process.stdout : createWriteStream(target));
  if (target !== '-') progress.write(`${e.rows} rows written to ${target}\n`);
  return 0;
}
