/**
 * POST /v1/profiles/bulk: up to 1,000,000 operations as NDJSON, one per line, streamed (never held
 * whole in memory) into chunks stored in one transaction with the import and its job; 202 once
 * committed. GET /v1/jobs/{id}: progress and the first failing lines.
 */
import type { Readable } from 'node:stream';
import { Type, type Static } from '@sinclair/typebox';
import type { FastifyPluginAsync } from 'fastify';
import type { Sql } from 'postgres';
import type { WorkQueue } from '../../queue/queue.js';
import { uuidv7 } from '../../domain/ids.js';
import { limits } from '../../domain/profile-operations.js';
import { createImport, importStatus, sealImport, storeChunk } from '../../store/import-jobs.js';
import { topics, type ImportPayload } from '../../worker/topics.js';
import { ApiError } from '../errors.js';
import { ndjsonLines } from '../ndjson-lines.js';

/** Lines per stored chunk (and per worker transaction), or fewer when they add up to chunkBytes. */
export const chunkLines = 1000;
const chunkBytes = 1024 * 1024;
const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export const importJobRoutes = (deps: { sql: Sql; queue: WorkQueue }): FastifyPluginAsync => async (app) => {
  // Scoped to this plugin: the route gets the raw request stream, read as it arrives.
  app.addContentTypeParser('application/x-ndjson', (_req, payload, done) => done(null, payload));

  app.post('/v1/profiles/bulk', {
    config: { auth: 'rest' },
    schema: {
      summary: 'Import up to 1,000,000 profile operations (NDJSON)',
      description:
        'Content-Type: application/x-ndjson, one operation per line (the same shape as /v1/profiles/update). Answers 202 ' +
        '`{job_id, total_lines}` once every line is stored; lines are validated and applied by a worker; ' +
        'GET /v1/jobs/{id} shows progress and per-line errors.',
      tags: ['profiles'],
    },
    handler: async (req, reply) => {
      const body = req.body as Readable;
      if (typeof body?.pipe !== 'function') throw new ApiError('unsupported_media_type', 'send the body as application/x-ndjson');
      const projectId = req.caller.projectId;
      const id = uuidv7();
      const total = await deps.sql.begin(async (tx) => {
        await createImport(tx, projectId, id);
        let lines: string[] = [];
        let bytes = 0;
        let chunkNo = 0;
        let count = 0;
        const flush = async () => {
          if (!lines.length) return;
          await storeChunk(tx, id, { chunkNo, firstLine: count - lines.length + 1, lines });
          chunkNo++;
          lines = [];
          bytes = 0;
        };
        for await (const line of ndjsonLines(body, limits.bulkLineBytes)) {
          if (++count > limits.bulkLines) {
            throw new ApiError('too_many_operations', `the upload has more than ${limits.bulkLines} lines`);
          }
          lines.push(line);
          bytes += line.length;
          if (lines.length >= chunkLines || bytes >= chunkBytes) await flush();
        }
        await flush();
        if (count === 0) throw new ApiError('invalid_field', 'body holds no line; send one operation per line');
        await sealImport(tx, id, count, chunkNo);
        await deps.queue.enqueue(tx, [{ topic: topics.importProfiles, payload: { import_id: id } satisfies ImportPayload }]);
        return count;
      });
      return reply.code(202).send({ job_id: id, total_lines: total });
    },
  });

  const Params = Type.Object({ id: Type.String() });
  app.get<{ Params: Static<typeof Params> }>('/v1/jobs/:id', {
    config: { auth: 'rest' },
    schema: { summary: 'Progress and per-line errors of a bulk import', tags: ['profiles'], params: Params },
    handler: async (req) => {
      const status = uuidPattern.test(req.params.id) ? await importStatus(deps.sql, req.caller.projectId, req.params.id) : undefined;
      if (!status) throw new ApiError('import_job_not_found', 'no bulk import with this id');
      return status;
    },
  });
};
