/**
 * herald import profiles FILE | herald import audience NAME FILE: sends a file to a running Herald
 * over its REST API (--url, the key in HERALD_API_KEY: never a flag, which `ps` would show), then
 * follows the job to its end: a bar on a terminal, a line per change otherwise.
 *   profiles: POST /v1/profiles/bulk (NDJSON operations; a .csv file is turned into them here).
 *   audience: the audience named NAME (created when missing), POST /v1/audiences/{id}/uploads
 *             (?mode=add|remove|replace, --mode; .csv or NDJSON as it is).
 * Exits 1 when the upload is refused or any line failed (the first errors are printed).
 */
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { ConfigError } from '../config.js';
import { csvProfileReader, progressBar, progressLine, type JobProgress } from '../domain/import-progress.js';
import { call, restSettings } from './rest.js';

interface ImportOptions {
  url: string | undefined;
  apiKey: string | undefined;
  mode?: string;
  /** Where progress goes, and whether it is a terminal. */
  out?: NodeJS.WriteStream | { write(s: string): boolean; isTTY?: boolean };
  pollMs?: number;
}

interface JobStatus extends JobProgress {
  errors: { line: number; field?: string; message: string }[];
  errors_truncated: boolean;
}

const settings = (o: ImportOptions) => restSettings(o, 'import');

/** The file as the request body, streamed: NDJSON as it is, CSV profiles as NDJSON operations. */
async function* profileBody(file: string): AsyncGenerator<Buffer> {
  if (!file.toLowerCase().endsWith('.csv')) {
    yield* createReadStream(file) as AsyncIterable<Buffer>;
    return;
  }
  let toOperation: ((line: string, n: number) => string | undefined) | undefined;
  let n = 0;
  for await (const line of createInterface({ input: createReadStream(file), crlfDelay: Infinity })) {
    n++;
    if (!toOperation) { toOperation = csvProfileReader(line.replace(/^\uFEFF/, '')); continue; }
    const op = toOperation(line, n);
    if (op !== undefined) yield Buffer.from(op + '\n');
  }
}

async function follow(base: string, headers: Record<string, string>, jobId: string, o: ImportOptions): Promise<number> {
  const out = o.out ?? process.stdout;
  let last = '';
  for (;;) {
    const job = await call<JobStatus>(base, headers, 'GET', `/v1/jobs/${jobId}`);
    if (out.isTTY) out.write(`\r${progressBar(job)}`);
    else {
      const line = progressLine(jobId, job);
      if (line !== last) out.write(line + '\n');
      last = line;
    }
    if (job.state === 'done') {
      if (out.isTTY) out.write('\n');
      for (const e of job.errors.slice(0, 20)) out.write(`line ${e.line}${e.field ? ` (${e.field})` : ''}: ${e.message}\n`);
      if (job.errors.length > 20 || job.errors_truncated) out.write('… more failing lines: GET /v1/jobs/' + jobId + '\n');
      return job.failed_lines > 0 ? 1 : 0;
    }
    await new Promise((r) => setTimeout(r, o.pollMs ?? 500));
  }
}

/**
 * The key is checked before the file is sent: a refused streamed upload is answered before its body
 * is read, and the client then sees a reset connection instead of the answer's reason.
 */
async function checkedSettings(o: ImportOptions) {
  const s = settings(o);
  await call(s.base, s.headers, 'GET', '/v1/audiences?limit=1');
  return s;
}

export async function importProfiles(file: string, o: ImportOptions): Promise<number> {
  const { base, headers } = await checkedSettings(o);
  const answer = await call<{ job_id: string; total_lines: number }>(base, headers, 'POST', '/v1/profiles/bulk', {
    headers: { 'content-type': 'application/x-ndjson' }, body: profileBody(file) as unknown as RequestInit['body'], duplex: 'half',
  } as RequestInit);
  (o.out ?? process.stdout).write(`uploaded ${answer.total_lines} lines: job ${answer.job_id}\n`);
  return follow(base, headers, answer.job_id, o);
}

interface Audience { id: string; name: string }

async function audienceNamed(base: string, headers: Record<string, string>, name: string): Promise<{ audience: Audience; created: boolean }> {
  for (let cursor: string | null | undefined; ;) {
    const page = await call<{ audiences: Audience[]; next_cursor: string | null }>(base, headers, 'GET',
      `/v1/audiences?limit=100${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
    const found = page.audiences.find((a) => a.name === name);
    if (found) return { audience: found, created: false };
    if (!page.next_cursor) break;
    cursor = page.next_cursor;
  }
  const audience = await call<Audience>(base, headers, 'POST', '/v1/audiences', {
    headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name }),
  });
  return { audience, created: true };
}

export async function importAudience(name: string, file: string, o: ImportOptions): Promise<number> {
  const { base, headers } = await checkedSettings(o);
  const mode = o.mode ?? 'add';
  if (!['add', 'remove', 'replace'].includes(mode)) throw new ConfigError(`--mode must be add, remove or replace, got "${mode}"`);
  const { audience, created } = await audienceNamed(base, headers, name);
  const csv = file.toLowerCase().endsWith('.csv');
  const answer = await call<{ job_id: string; total_ids: number; indexing_token: string }>(base, headers, 'POST',
    `/v1/audiences/${audience.id}/uploads?mode=${mode}`, {
      headers: { 'content-type': csv ? 'text/csv' : 'application/x-ndjson' },
      body: createReadStream(file) as unknown as RequestInit['body'], duplex: 'half',
    } as RequestInit);
  (o.out ?? process.stdout).write(`${created ? 'created' : 'found'} audience ${audience.id} (${name}); uploaded ${answer.total_ids} ids (${mode}): job ${answer.job_id}\n`);
  return follow(base, headers, answer.job_id, o);
}
