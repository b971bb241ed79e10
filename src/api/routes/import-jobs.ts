/**
 * POST /v1/profiles/bulk: up to 1,000,000 operations (256 MiB) as NDJSON, one per line, streamed
 * (never held whole in memory) into chunks, each stored in its own short statement under an
 * invisible 'uploading' import; once the body is complete one transaction makes the import visible
 * and enqueues its job; 202 once committed. No transaction nor pooled connection waits on the
 * client's body, so slow uploads cannot starve the pool. GET /v1/jobs/{id}: progress and the first
 * failing lines.
 */
import { Readable } from 'node:stream';
import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { Sql } from 'postgres';
import type { WorkQueue } from '../../queue/queue.js';
import { uuidv7 } from '../../domain/ids.js';
import { limits } from '../../domain/profile-operations.js';
import { createImport, discardUpload, importStatus, sealImport, storeChunk } from '../../store/import-jobs.js';
import { topics, type ImportPayload } from '../../worker/topics.js';
import { ApiError } from '../errors.js';
import { ndjsonLines } from '../ndjson-lines.js';
import { DateTime, errorResponses, inputErrors, Nullable, restKeyErrors } from '../schemas.js';
import { validatedByParser } from '../profile-operation-schema.js';

/** Lines per stored chunk (and per worker transaction), or fewer when they add up to chunkBytes. */
export const chunkLines = 1000;
const chunkBytes = 1024 * 1024;
const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/**
 * Uploads one project streams into one API process at once: each holds up to a chunk (1 MiB) in
 * memory and writes as fast as its client sends, so a project cannot take every API process's
 * memory and write bandwidth with parallel uploads; 4 is more than one import pipeline needs.
 */
export const uploadsPerProject = 4;

export interface ImportRouteDeps {
  sql: Sql;
  queue: WorkQueue;
  /** The byte cap of one upload; limits.bulkBytes unless a test lowers it. */
  maxBodyBytes?: number | undefined;
}

/** Passes the body on, refusing it once it has carried more than `max` bytes. */
async function* capped(body: AsyncIterable<Buffer>, max: number): AsyncGenerator<Buffer> {
  let bytes = 0;
  for await (const chunk of body) {
    bytes += chunk.length;
    if (bytes > max) throw new ApiError('body_too_large', `the upload exceeds ${max} bytes; split it across calls`);
    yield chunk;
  }
}

/** store/import-jobs.ts#ImportStatus. */
const ImportStatus = Type.Object({
  id: Type.String({ format: 'uuid' }),
  state: Type.Union([Type.Literal('queued'), Type.Literal('running'), Type.Literal('done')]),
  total_lines: Type.Integer(),
  processed_lines: Type.Integer(),
  failed_lines: Type.Integer(),
  created_at: DateTime,
  finished_at: Nullable(DateTime),
  errors: Type.Array(Type.Object({
    line: Type.Integer({ description: 'Counted from 1.' }),
    field: Type.String({ description: 'The field of the line\'s operation, as /v1/profiles/update names it.' }),
    message: Type.String(),
  }), { description: 'The first failing lines.' }),
  errors_truncated: Type.Boolean({ description: 'More lines failed than errors lists.' }),
});

export const importJobRoutes = (deps: ImportRouteDeps): FastifyPluginAsyncTypebox => async (app) => {
  const maxBytes = deps.maxBodyBytes ?? limits.bulkBytes;
  const uploading = new Map<string, number>();
  // Scoped to this plugin: the route gets the raw request stream, read as it arrives.
  app.addContentTypeParser('application/x-ndjson', (_req, payload, done) => done(null, payload));

  app.post('/v1/profiles/bulk', {
    config: { auth: 'rest' },
    schema: {
      summary: 'Import up to 1,000,000 profile operations, 256 MiB (NDJSON)',
      description:
        'Content-Type: application/x-ndjson, one operation per line (the same shape as /v1/profiles/update). Answers 202 ' +
        '`{job_id, total_lines}` once every line is stored; lines are validated and applied by a worker; ' +
        'GET /v1/jobs/{id} shows progress and per-line errors.',
      tags: ['profiles'],
      // Documentation only (x-validated-by: parser): the body is a stream, read line by line below,
      // and each line is checked by the import worker as /v1/profiles/update checks an operation.
      body: {
        content: {
          'application/x-ndjson': {
            // No type: what the route receives is the request stream, which no JSON type describes.
            schema: {
              ...validatedByParser,
              description: `One operation per line (the items of /v1/profiles/update), at most ${limits.bulkLines} lines of ${limits.bulkLineBytes} bytes.`,
            },
          },
        },
      },
      response: {
        202: Type.Object({ job_id: Type.String({ format: 'uuid' }), total_lines: Type.Integer() }, { description: 'Every line is stored.' }),
        ...errorResponses(restKeyErrors, 'unsupported_media_type', 'body_too_large', 'too_many_uploads', 'too_many_operations',
          'invalid_field', 'request_incomplete', 'request_timeout'),
      },
    },
    handler: async (req, reply) => {
      // The application/x-ndjson parser above hands over the request stream itself.
      const body = req.body as Readable;
      if (typeof body?.pipe !== 'function') throw new ApiError('unsupported_media_type', 'send the body as application/x-ndjson');
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
      let total = 0;
      try {
        await createImport(deps.sql, projectId, id);
        created = true;
        let lines: string[] = [];
        let bytes = 0;
        let chunkNo = 0;
        const flush = async () => {
          if (!lines.length) return;
          await storeChunk(deps.sql, id, { chunkNo, firstLine: total - lines.length + 1, lines });
          chunkNo++;
          lines = [];
          bytes = 0;
        };
        for await (const line of ndjsonLines(Readable.from(capped(body, maxBytes)), limits.bulkLineBytes)) {
          if (++total > limits.bulkLines) {
            throw new ApiError('too_many_operations', `the upload has more than ${limits.bulkLines} lines`);
          }
          lines.push(line);
          bytes += line.length;
          if (lines.length >= chunkLines || bytes >= chunkBytes) await flush();
        }
        await flush();
        if (total === 0) throw new ApiError('invalid_field', 'body holds no line; send one operation per line');
        const chunks = chunkNo;
        await deps.sql.begin(async (tx) => {
          await sealImport(tx, id, total, chunks);
          await deps.queue.enqueue(tx, [{ topic: topics.importProfiles, payload: { import_id: id } satisfies ImportPayload }]);
        });
      } catch (err) {
        // Nothing of an upload that will not complete stays; if this fails too, the scheduler's upkeep removes it.
        if (created) await discardUpload(deps.sql, id).catch((e: unknown) => req.log.warn({ err: e }, 'an abandoned upload is left for the scheduler'));
        throw err;
      } finally {
        const n = (uploading.get(projectId) ?? 1) - 1;
        if (n) uploading.set(projectId, n);
        else uploading.delete(projectId);
      }
      return reply.code(202).send({ job_id: id, total_lines: total });
    },
  });

  const Params = Type.Object({ id: Type.String() });
  app.get('/v1/jobs/:id', {
    config: { auth: 'rest' },
    schema: {
      summary: 'Progress and per-line errors of a bulk import', tags: ['profiles'], params: Params,
      response: { 200: ImportStatus, ...errorResponses(inputErrors, restKeyErrors, 'import_job_not_found') },
    },
    handler: async (req) => {
      const status = uuidPattern.test(req.params.id) ? await importStatus(deps.sql, req.caller.projectId, req.params.id) : undefined;
      if (!status) throw new ApiError('import_job_not_found', 'no bulk import with this id');
      return status;
    },
  });
};
