/**
 * An export's pages (store/exports.ts): one job per page. Each job locks the export, checks that
 * it carries the page the export is at, cuts the file back to the length the committed pages gave
 * it (a page a crashed worker wrote but did not commit is gone), appends the page, flushes it to
 * disk, and records the file's length, the rows and the next page's job in one transaction. So the
 * file holds each row once whatever the crashes and redeliveries, and memory holds one page.
 */
import { mkdir, open } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { Sql } from 'postgres';
import type { Logger } from 'pino';
import type { Job, WorkQueue } from '../queue/queue.js';
import type { Clock } from '../domain/clock.js';
import { encodePage } from '../domain/exports/encode.js';
import { exportColumns } from '../domain/exports/definition.js';
import { countRows, failExport, lockExport, readPage, recordPage } from '../store/exports.js';
import { exportFilePath } from '../store/export-files.js';
import { isDatabaseFailure } from '../store/database-errors.js';
import { topics, type ExportPayload } from './topics.js';

/** Rows per page: a few MB of file per transaction at most. */
export const exportPageRows = 10_000;

export function exportHandler(deps: { sql: Sql; queue: WorkQueue; clock: Clock; exportsDir: string; log?: Logger; pageRows?: number }) {
  const pageRows = deps.pageRows ?? exportPageRows;
  const page = (p: ExportPayload) => deps.sql.begin(async (tx) => {
    const e = await lockExport(tx, p.export_id);
    // Done, failed or expired, or a page another job already wrote: nothing to do.
    if (!e || e.state !== 'running' || e.page !== p.page) return;
    const columns = exportColumns(e.params);
    const total = e.page === 0 ? await countRows(tx, e.project_id, e.params) : undefined;
    const read = await readPage(tx, e.project_id, e.params, e.cursor, pageRows);
    const bytes = Buffer.from(encodePage(e.format, columns, read.rows, e.page === 0), 'utf8');
    const path = exportFilePath(deps.exportsDir, e);
    await mkdir(dirname(path), { recursive: true, mode: 0o700 });
    const file = await open(path, e.page === 0 ? 'w' : 'r+', 0o600);
    try {
      await file.truncate(e.bytes);
      if (bytes.length) await file.write(bytes, 0, bytes.length, e.bytes);
      // On disk before the commit that says the file is this long.
      await file.sync();
    } finally {
      await file.close();
    }
    const done = read.rows.length < pageRows;
    await recordPage(tx, e.id, { rows: read.rows.length, bytes: e.bytes + bytes.length, cursor: read.cursor, total, done, now: new Date(deps.clock.now()) });
    if (!done) await deps.queue.enqueue(tx, [{ topic: topics.exportPage, payload: { export_id: e.id, page: e.page + 1 } satisfies ExportPayload }]);
  });

  return async (jobs: Job[]): Promise<void> => {
    for (const job of jobs) {
      const p = job.payload as ExportPayload;
      try {
        await page(p);
      } catch (err) {
        // The database or the disk may come back: the job is retried. The last attempt says why it failed.
        if (isDatabaseFailure(err) || job.attempt < job.maxAttempts) throw err;
        deps.log?.error({ err, exportId: p.export_id }, 'an export page failed for good');
        await failExport(deps.sql, p.export_id, `writing page ${p.page} failed (${(err as Error).name})`, new Date(deps.clock.now()));
      }
      await deps.queue.ack([job]);
    }
  };
}
