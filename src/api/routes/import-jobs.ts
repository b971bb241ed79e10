/**
 * POST /v1/profiles/bulk: up to 1,000,000 operations (256 MiB) as NDJSON, one per line, streamed
 * (never held whole in memory) into chunks, each stored in its own short statement under an
 * invisible 'uploading' import; once the body is complete one transaction makes the import visible
 * and enqueues its job; 202 once committed. No transaction nor pooled connection waits on the
 * client's body, so slow uploads cannot starve the pool (api/bulk-upload.ts, shared with audience
 * uploads). GET /v1/jobs/{id}: progress and the first failing lines.
 */
import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { Sql } from 'postgres';
import type { WorkQueue } from '../../queue/queue.js';
import { limits } from '../../domain/profile-operations.js';
import { importStatus } from '../../store/import-jobs.js';
import { topics, type ImportPayload } from '../../worker/topics.js';
import { ApiError } from '../errors.js';
import { createUploadStager, type UploadShape, type UploadStager } from '../bulk-upload.js';
import { DateTime, errorResponses, inputErrors, Nullable, restKeyErrors } from '../schemas.js';
import { validatedByParser } from '../profile-operation-schema.js';

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
