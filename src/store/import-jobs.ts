/**
 * Bulk imports (POST /v1/profiles/bulk). The upload is staged as chunks of raw NDJSON lines, each
 * chunk in its own statement, under an import in state 'uploading' that has no job and that no
 * reader sees; once the body is complete, one transaction makes it 'queued' and enqueues its job,
 * so a 202 means every line is stored, and no transaction waits on a client's body. An upload cut
 * short is deleted (discardUpload, or deleteAbandonedUploads when its process died). The worker applies one chunk per transaction and stamps it in that same transaction: a chunk is
 * applied once, whatever the redeliveries, crashes or concurrent workers.
 */
import type { Sql, TransactionSql } from 'postgres';
import { InputError, parseOperation, type ProfileOperation } from '../domain/profile-operations.js';
import { findUnstorable } from '../domain/storable.js';
import { applyOperations } from './profiles.js';

/** Failing lines whose error is kept; the rest are counted only. */
export const storedErrorsPerImport = 1000;

export interface ImportChunk {
  chunkNo: number;
  firstLine: number;
  lines: string[];
  /** The stored body, when not the lines joined by newlines (an audience upload's JSON array of ids). */
  body?: string | undefined;
}

/**
 * An upload older than this that is still 'uploading' was abandoned by a process that died: no
 * upload outlives the API's request deadline (at most an hour, src/config.ts).
 */
export const abandonedUploadAfterMs = 2 * 3600 * 1000;

export async function createImport(sql: Sql, projectId: string, id: string): Promise<void> {
  await sql`insert into import_jobs (id, project_id, state, total_lines, total_chunks) values (${id}, ${projectId}, 'uploading', 0, 0)`;
}

/** One chunk of an upload, in its own statement (so its own transaction). */
export async function storeChunk(sql: Sql, importId: string, c: ImportChunk): Promise<void> {
  await sql`insert into import_chunks (import_id, chunk_no, first_line, line_count, body)
            values (${importId}, ${c.chunkNo}, ${c.firstLine}, ${c.lines.length}, ${c.body ?? c.lines.join('\n')})`;
}

/** Makes a complete upload visible, in the transaction that enqueues its job. */
export async function sealImport(tx: TransactionSql, importId: string, totalLines: number, totalChunks: number): Promise<void> {
  const sealed = await tx`update import_jobs set total_lines = ${totalLines}, total_chunks = ${totalChunks},
             state = case when ${totalChunks} = 0 then 'done' else 'queued' end,
             finished_at = case when ${totalChunks} = 0 then now() end
           where id = ${importId} and state = 'uploading'`;
  if (sealed.count !== 1) throw new Error(`import ${importId} is no longer uploading; it cannot be sealed`);
}

/** Deletes an upload that will not complete, with its staged chunks. */
export async function discardUpload(sql: Sql, importId: string): Promise<void> {
  await sql`delete from import_jobs where id = ${importId} and state = 'uploading'`;
}

/** Deletes the uploads a dead process left 'uploading'; returns how many. */
export async function deleteAbandonedUploads(sql: Sql, now: Date, olderThanMs = abandonedUploadAfterMs): Promise<number> {
  const r = await sql`delete from import_jobs where state = 'uploading' and created_at < ${now}::timestamptz - ${olderThanMs / 1000} * interval '1 second'`;
  return r.count;
}

export interface ImportStatus {
  id: string;
  state: 'queued' | 'running' | 'done';
  total_lines: number;
  processed_lines: number;
  failed_lines: number;
  created_at: Date;
  finished_at: Date | null;
  errors: { line: number; field: string; message: string }[];
  errors_truncated: boolean;
}

export async function importStatus(sql: Sql, projectId: string, id: string): Promise<ImportStatus | undefined> {
  const [job] = await sql<Omit<ImportStatus, 'errors' | 'errors_truncated'>[]>`
    select id, state, total_lines, processed_lines, failed_lines, created_at, finished_at
    from import_jobs where id = ${id} and project_id = ${projectId} and state <> 'uploading'`;
  if (!job) return undefined;
  const errors = await sql<ImportStatus['errors']>`
    select line, field, message from import_errors where import_id = ${id} order by line`;
  return { ...job, errors: [...errors], errors_truncated: job.failed_lines > errors.length };
}

export async function pendingChunks(sql: Sql, importId: string): Promise<number[]> {
  const rows = await sql<{ chunk_no: number }[]>`
    select chunk_no from import_chunks where import_id = ${importId} and applied_at is null order by chunk_no`;
  return rows.map((r) => r.chunk_no);
}

export interface ChunkOptions {
  now?: () => Date;
  /** Runs inside the chunk's transaction just before it commits (tests simulate a crash here). */
  beforeCommit?: (tx: TransactionSql) => Promise<void>;
}

/**
 * Applies one chunk, once: the chunk row is locked and checked, its valid lines applied, the
 * failing ones recorded, the job's counters moved and the chunk stamped (its body emptied), all in
 * one transaction. Returns false when the chunk was already applied.
 */
export async function applyChunk(sql: Sql, importId: string, chunkNo: number, o: ChunkOptions = {}): Promise<boolean> {
  return sql.begin(async (tx) => {
    const [chunk] = await tx<{ project_id: string; first_line: number; body: string; applied_at: Date | null }[]>`
      select j.project_id, c.first_line, c.body, c.applied_at
      from import_chunks c join import_jobs j on j.id = c.import_id
      where c.import_id = ${importId} and c.chunk_no = ${chunkNo}
      for update of c`;
    if (!chunk || chunk.applied_at) return false;
    const now = o.now?.() ?? new Date(); // the worker passes its clock (worker/import-profiles.ts)
    const ops: ProfileOperation[] = [];
    const failures: { line: number; field: string; message: string }[] = [];
    chunk.body.split('\n').forEach((text, i) => {
      const line = chunk.first_line + i;
      if (!text.trim()) return;
      let parsed: unknown;
      try {
        parsed = JSON.parse(text);
      } catch {
        failures.push({ line, field: 'line', message: 'is not valid JSON' });
        return;
      }
      // Text PostgreSQL cannot store (an escaped \u0000) would fail the chunk, and any error naming it.
      const unstorable = findUnstorable(parsed);
      if (unstorable) {
        failures.push({ line, field: unstorable.field || 'line', message: unstorable.problem });
        return;
      }
      try {
        ops.push(parseOperation(parsed, '', now));
      } catch (err) {
        if (!(err instanceof InputError)) throw err;
        failures.push({ line, field: err.field, message: err.message.slice(err.field.length + 1) });
      }
    });
    await applyOperations(tx, chunk.project_id, ops);
    const lineCount = chunk.body.split('\n').length;
    const [job] = await tx<{ failed_lines: number }[]>`
      update import_jobs set processed_lines = processed_lines + ${lineCount}, failed_lines = failed_lines + ${failures.length},
                             state = 'running'
      where id = ${importId} returning failed_lines`;
    const room = Math.max(0, storedErrorsPerImport - (job!.failed_lines - failures.length));
    const kept = failures.slice(0, room);
    if (kept.length) {
      await tx`insert into import_errors (import_id, line, field, message)
               select ${importId}, * from unnest(${kept.map((f) => f.line)}::int[], ${kept.map((f) => f.field)}::text[],
                                                 ${kept.map((f) => f.message)}::text[])`;
    }
    await tx`update import_chunks set applied_at = now(), body = '' where import_id = ${importId} and chunk_no = ${chunkNo}`;
    await tx`update import_jobs set state = 'done', finished_at = now()
             where id = ${importId}
               and not exists (select 1 from import_chunks where import_id = ${importId} and applied_at is null)`;
    await o.beforeCommit?.(tx);
    return true;
  });
}
