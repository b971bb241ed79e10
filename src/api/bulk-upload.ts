/**
 * The bulk-job upload every bulk endpoint shares (POST /v1/profiles/bulk, POST
 * /v1/audiences/{id}/uploads): the body is streamed (never held whole in memory) into chunks,
 * each stored in its own short statement under an invisible 'uploading' import
 * (store/import-jobs.ts); once the body is complete one transaction seals the import with whatever
 * the endpoint commits alongside (its job, an audience change, an idempotency key). No
 * transaction nor pooled connection waits on the client's body, so slow uploads cannot starve the
 * pool; an upload that fails or is cut short is deleted at once (or by the scheduler's upkeep when
 * its process died).
 */
import { createHash, type Hash } from 'node:crypto';
import { Readable } from 'node:stream';
import type { FastifyRequest } from 'fastify';
import type { Sql, TransactionSql } from 'postgres';
import { uuidv7 } from '../domain/ids.js';
import { createImport, discardUpload, sealImport, storeChunk } from '../store/import-jobs.js';
import { ApiError } from './errors.js';
import { ndjsonLines } from './ndjson-lines.js';

/**
 * Uploads one project streams into one API process at once, across every bulk endpoint: each
 * holds up to a chunk (1 MiB) in memory and writes as fast as its client sends, so a project
 * cannot take every API process's memory and write bandwidth with parallel uploads; 4 is more
 * than one import pipeline needs.
 */
export const uploadsPerProject = 4;
const chunkBytes = 1024 * 1024;

export interface UploadShape {
  /** Most items one upload may hold. */
  maxItems: number;
  maxLineBytes: number;
  /** Items per stored chunk (and per worker transaction), or fewer when they add up to 1 MiB. */
  chunkItems: number;
  /** A line (1-based number) to the item stored for it, undefined to skip it; throws ApiError to refuse the upload. */
  item: (line: string, lineNo: number) => string | undefined;
  /** A chunk's items to its stored body. */
  body: (items: string[]) => string;
  /** Refuses an upload with too many items. */
  tooMany: () => ApiError;
  /** The content types the endpoint reads, for the 415 of any other. */
  mediaTypes: string;
}

export interface StagedUpload {
  importId: string;
  items: number;
  chunks: number;
  /** SHA-256 of the body's bytes (for an Idempotency-Key's request hash). */
  bodyHash: Buffer;
  /** Makes the import visible: call it in the sealing transaction, or the upload is discarded. */
  seal: (tx: TransactionSql) => Promise<void>;
}

export interface UploadStager {
  /** Streams the request's body into a new import, then runs `commit` in one transaction. */
  stage<R>(req: FastifyRequest, shape: UploadShape, commit: (tx: TransactionSql, upload: StagedUpload) => Promise<R>): Promise<R>;
}

/** Passes the body on, hashing it and refusing it once it has carried more than `max` bytes. */
async function* capped(body: AsyncIterable<Buffer>, max: number, hash: Hash): AsyncGenerator<Buffer> {
  let bytes = 0;
  for await (const chunk of body) {
    bytes += chunk.length;
    if (bytes > max) throw new ApiError('body_too_large', `the upload exceeds ${max} bytes; split it across calls`);
    hash.update(chunk);
    yield chunk;
  }
}

export function createUploadStager(deps: { sql: Sql; maxBytes: number }): UploadStager {
  const { sql, maxBytes } = deps;
  const uploading = new Map<string, number>();
  return {
    async stage<R>(req: FastifyRequest, shape: UploadShape, commit: (tx: TransactionSql, upload: StagedUpload) => Promise<R>): Promise<R> {
      const body = req.body as Readable;
      if (typeof body?.pipe !== 'function') throw new ApiError('unsupported_media_type', `send the body as ${shape.mediaTypes}`);
      const projectId = req.caller.projectId;
      if (Number(req.headers['content-length']) > maxBytes) {
        throw new ApiError('body_too_large', `the upload exceeds ${maxBytes} bytes; split it across calls`);
      }
      const inFlight = uploading.get(projectId) ?? 0;
      if (inFlight >= uploadsPerProject) {
        throw new ApiError('too_many_uploads', `this project already has ${uploadsPerProject} bulk uploads in progress here`, { 'retry-after': '5' });
      }
      uploading.set(projectId, inFlight + 1);
      const id = uuidv7();
      let created = false;
      let sealing = false;
      let sealed = false;
      try {
        await createImport(sql, projectId, id);
        created = true;
        let items: string[] = [];
        let bytes = 0;
        let total = 0;
        let lineNo = 0;
        let chunkNo = 0;
        const flush = async () => {
          if (!items.length) return;
          await storeChunk(sql, id, { chunkNo, firstLine: total - items.length + 1, lines: items, body: shape.body(items) });
          chunkNo++;
          items = [];
          bytes = 0;
        };
        const hash = createHash('sha256');
        for await (const line of ndjsonLines(Readable.from(capped(body, maxBytes, hash)), shape.maxLineBytes)) {
          const item = shape.item(line, ++lineNo);
          if (item === undefined) continue;
          if (++total > shape.maxItems) throw shape.tooMany();
          items.push(item);
          bytes += item.length;
          if (items.length >= shape.chunkItems || bytes >= chunkBytes) await flush();
        }
        await flush();
        const chunks = chunkNo;
        const staged: StagedUpload = {
          importId: id, items: total, chunks, bodyHash: hash.digest(),
          seal: async (tx) => {
            await sealImport(tx, id, total, chunks);
            sealing = true;
          },
        };
        const result = (await sql.begin((tx) => commit(tx, staged))) as R;
        sealed = sealing;
        if (!sealed) await discardUpload(sql, id); // the endpoint answered without it (a replayed Idempotency-Key)
        return result;
      } catch (err) {
        // Nothing of an upload that will not complete stays; if this fails too, the scheduler's upkeep removes it.
        if (created && !sealed) await discardUpload(sql, id).catch((e: unknown) => req.log.warn({ err: e }, 'an abandoned upload is left for the scheduler'));
        throw err;
      } finally {
        const n = (uploading.get(projectId) ?? 1) - 1;
        if (n) uploading.set(projectId, n);
        else uploading.delete(projectId);
      }
    },
  };
}
