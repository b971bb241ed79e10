/**
 * POST /v1/profiles/bulk: up to 1,000,000 operations (256 MiB) as NDJSON, one per line, streamed
 * (never held whole in memory) into chunks, each stored in its own short statement under an
 * invisible 'uploading' import; once the body is complete one transaction makes the import visible
 * and enqueues its job; 202 once committed. No transaction nor pooled connection waits on the
 * client's body, so slow uploads cannot starve the pool (api/bulk-upload.ts, shared with audience
 * uploads). GET /v1/jobs/{id}: progress and the first failing lines.
 */
import { Type, type Static } from '@sinclair/typebox';
import type { FastifyPluginAsync } from 'fastify';
import type { Sql } from 'postgres';
import type { WorkQueue } from '../../queue/queue.js';
import { limits } from '../../domain/profile-operations.js';
import { importStatus } from '../../store/import-jobs.js';
import { topics, type ImportPayload } from '../../worker/topics.js';
import { ApiError } from '../errors.js';
import { createUploadStager, type UploadShape, type UploadStager } from '../bulk-upload.js';

/** Lines per stored chunk (and per worker transaction), or fewer when they add up to 1 MiB. */
const chunkLines = 1000;
const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export interface ImportRouteDeps {
  sql: Sql;
  queue: WorkQueue;
  /** The byte cap of one upload; limits.bulkBytes unless a test lowers it. */
  maxBodyBytes?: number | undefined;
  /** The upload staging shared with the other bulk endpoints (one per-project upload limit). */
  uploads?: UploadStager | undefined;
}

/** Lines are stored as sent; the worker validates each and reports the failing ones. */
const profileLines: UploadShape = {
  maxItems: limits.bulkLines, maxLineBytes: limits.bulkLineBytes, chunkItems: chunkLines,
  item: (line) => line, body: (lines) => lines.join('\n'),
  tooMany: () => new ApiError('too_many_operations', `the upload has more than ${limits.bulkLines} lines`),
  mediaTypes: 'application/x-ndjson',
};

export const importJobRoutes = (deps: ImportRouteDeps): FastifyPluginAsync => async (app) => {
  const uploads = deps.uploads ?? createUploadStager({ sql: deps.sql, maxBytes: deps.maxBodyBytes ?? limits.bulkBytes });
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
    },
    handler: async (req, reply) => {
      const answer = await uploads.stage(req, profileLines, async (tx, upload) => {
        if (upload.items === 0) throw new ApiError('invalid_field', 'body holds no line; send one operation per line');
        await upload.seal(tx);
        await deps.queue.enqueue(tx, [{ topic: topics.importProfiles, payload: { import_id: upload.importId } satisfies ImportPayload }]);
        return { job_id: upload.importId, total_lines: upload.items };
      });
      return reply.code(202).send(answer);
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
