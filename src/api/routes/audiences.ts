/**
 * Custom audiences (/v1/audiences), after the seed platform's
 * (https://doc.batch.com/developer/api/cep/audiences/): named lists of custom_ids a targeting query
 * names as {"audience": id}. Members change asynchronously: a change of up to 10,000 ids (add and
 * remove, or replace all), or an upload of millions (NDJSON or CSV, staged through the bulk-job
 * upload profile imports use), answers 202 with an indexing token once it is committed with its
 * job; the token reads in_process until the worker has applied it, then applied. Changes to one
 * audience apply in the order they were accepted. With an Idempotency-Key header, a write's same
 * key and body replay its first answer; another body with that key is a 422.
 */
import { Type, type Static } from '@sinclair/typebox';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { Sql, TransactionSql } from 'postgres';
import { systemClock, type Clock } from '../../domain/clock.js';
import { uuidv7 } from '../../domain/ids.js';
import { IdLineError, idLineReader, maxCustomIdLength, type UploadFormat } from '../../domain/audience-ids.js';
import type { WorkQueue } from '../../queue/queue.js';
import { audienceExists, changeState, deleteAudience, getAudience, insertAudience, insertChanges, listAudiences, type ChangeKind, type NewChange } from '../../store/audiences.js';
import { claimIdempotencyKeys, requestHash } from '../../store/idempotency.js';
import { topics, type AudiencePayload } from '../../worker/topics.js';
import type { UploadShape, UploadStager } from '../bulk-upload.js';
import { ApiError } from '../errors.js';
import { errorResponses, inputErrors, restKeyErrors } from '../schemas.js';

/** Ids one inline change takes (add and remove together), as the seed platform's API. */
export const maxIdsPerCall = 10_000;
/** Ids one upload takes: a few million, within the bulk upload's byte cap. */
export const maxIdsPerUpload = 10_000_000;
/** Ids per staged chunk, applied a chunk per transaction. */
const uploadChunkIds = 10_000;

export interface AudienceRouteDeps {
  sql: Sql;
  queue: WorkQueue;
  uploads: UploadStager;
  clock?: Clock | undefined;
}

const id = Type.String({ pattern: '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' });
const IdParams = Type.Object({ id });
const TokenParams = Type.Object({ id, token: id });
const name = Type.String({ minLength: 1, maxLength: 200 });
const description = Type.Union([Type.String({ maxLength: 2000 }), Type.Null()]);
const customId = Type.String({ minLength: 1, maxLength: maxCustomIdLength });
const CreateBody = Type.Object({ name, description: Type.Optional(description) }, { additionalProperties: false });
const ListQuery = Type.Object({ limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 100 })), cursor: Type.Optional(id) }, { additionalProperties: false });
const ChangeBody = Type.Object({
  add: Type.Optional(Type.Array(customId, { description: 'custom_ids to add (at most 10,000 with remove)' })),
  remove: Type.Optional(Type.Array(customId, { description: 'custom_ids to remove' })),
}, { additionalProperties: false, minProperties: 1 });
const ReplaceBody = Type.Object({
  custom_ids: Type.Array(customId, { description: 'The audience\'s members from now on (at most 10,000; empty clears it)' }),
}, { additionalProperties: false });
const UploadQuery = Type.Object({
  mode: Type.Union([Type.Literal('add'), Type.Literal('remove'), Type.Literal('replace')], { description: 'add the uploaded ids, remove them, or make them the whole audience' }),
}, { additionalProperties: false });

const dateTime = Type.String({ format: 'date-time' });
const Audience = Type.Object({ id, name, description, created_at: dateTime, updated_at: dateTime });
const AudienceDetail = Type.Object({
  id, name, description, created_at: dateTime, updated_at: dateTime,
  member_count: Type.Integer({ description: 'Members now; changes still in process are not counted yet.' }),
  pending_changes: Type.Integer({ description: 'Accepted changes not yet applied.' }),
});
const Accepted = Type.Object({ indexing_token: id });
const UploadAccepted = Type.Object({
  indexing_token: id,
  job_id: Type.String({ description: 'The bulk job staging the ids (GET /v1/jobs/{id} shows its progress).' }),
  total_ids: Type.Integer(),
});
const Indexing = Type.Object({
  token: id,
  state: Type.Union([Type.Literal('in_process'), Type.Literal('applied')]),
  kind: Type.Union([Type.Literal('add'), Type.Literal('remove'), Type.Literal('replace')]),
  id_count: Type.Integer({ description: 'Ids the change named (duplicates included).' }),
  created_at: dateTime,
  applied_at: Type.Union([dateTime, Type.Null()]),
  job_id: Type.Union([Type.String(), Type.Null()]),
});

const notFound = (audienceId: string) => new ApiError('audience_not_found', `no audience ${audienceId} in this project`);

export const audienceRoutes = (deps: AudienceRouteDeps): FastifyPluginAsyncTypebox => async (app) => {
  const { sql, queue } = deps;
  const clock = deps.clock ?? systemClock;
  // Scoped to this plugin: the upload route reads the raw request stream as it arrives.
  app.addContentTypeParser(['application/x-ndjson', 'text/csv'], (_req, payload, done) => done(null, payload));

  /**
   * Runs `effect` in `tx` unless the request's Idempotency-Key was used before: then the stored
   * answer is replayed (same body) or the call refused (another body). The key is claimed in the
   * transaction of the effect, so both commit or neither (store/idempotency.ts).
   */
  const idempotent = async (
    tx: TransactionSql, req: FastifyRequest, hash: () => Buffer, answer: { status: number; body: unknown }, effect: () => Promise<void>,
  ): Promise<{ status: number; body: unknown; replayed: boolean }> => {
    const key = req.headers['idempotency-key'];
    if (typeof key === 'string') {
      const [claim] = await claimIdempotencyKeys(tx, [{ projectId: req.caller.projectId, key, hash: hash(), response: answer }]);
      if (claim!.kind === 'existing') {
        if (!claim!.hash.equals(hash())) throw new ApiError('idempotency_key_reused', 'this Idempotency-Key was already used with a different body');
        return { status: claim!.status, body: claim!.body, replayed: true };
      }
    }
    await effect();
    return { ...answer, replayed: false };
  };
  const checkKey = (req: FastifyRequest) => {
    const key = req.headers['idempotency-key'];
    if (Array.isArray(key) || (key !== undefined && (key.length === 0 || key.length > 255))) {
      throw new ApiError('invalid_idempotency_key', 'Idempotency-Key must be 1 to 255 characters');
    }
  };
  const send = (reply: FastifyReply, r: { status: number; body: unknown; replayed: boolean }) => {
    if (r.replayed) void reply.header('idempotent-replayed', 'true');
    return reply.code(r.status).send(r.body);
  };
  const enqueueApply = (tx: TransactionSql, projectId: string, audienceId: string) =>
    queue.enqueue(tx, [{ topic: topics.applyAudiences, payload: { project_id: projectId, audience_id: audienceId } satisfies AudiencePayload }]);
  /** Stores the changes and their job in one transaction; the last change's id is the call's token. */
  const acceptChanges = async (req: FastifyRequest, url: string, changes: NewChange[]) => {
    checkKey(req);
    const projectId = req.caller.projectId;
    const audienceId = (req.params as { id: string }).id;
    const token = changes[changes.length - 1]!.id;
    return sql.begin((tx) => idempotent(tx, req, () => requestHash(req.method, url, req.body), { status: 202, body: { indexing_token: token } }, async () => {
      if (!(await insertChanges(tx, projectId, audienceId, changes))) throw notFound(audienceId);
      await enqueueApply(tx, projectId, audienceId);
    }));
  };

  app.post<{ Body: Static<typeof CreateBody> }>('/v1/audiences', {
    config: { auth: 'rest' },
    schema: {
      summary: 'Create a custom audience (empty: add its members next)', tags: ['audiences'], body: CreateBody,
      response: { 201: Audience, ...errorResponses(inputErrors, restKeyErrors, 'audience_name_taken', 'invalid_idempotency_key', 'idempotency_key_reused') },
    },
    handler: async (req, reply) => {
      checkKey(req);
      const audienceId = uuidv7(clock.now());
      const now = clock.now();
      const at = new Date(now).toISOString();
      const planned = { id: audienceId, name: req.body.name, description: req.body.description ?? null, created_at: at, updated_at: at };
      const r = await sql.begin((tx) => idempotent(tx, req, () => requestHash('POST', '/v1/audiences', req.body), { status: 201, body: planned }, async () => {
        const saved = await insertAudience(tx, req.caller.projectId, { id: audienceId, name: planned.name, description: planned.description, now });
        if (saved === 'name_taken') throw new ApiError('audience_name_taken', `this project already has an audience named ${JSON.stringify(req.body.name)}`);
      }));
      return send(reply, r);
    },
  });

  app.get<{ Querystring: Static<typeof ListQuery> }>('/v1/audiences', {
    config: { auth: 'rest' },
    schema: {
      summary: 'The project\'s audiences, oldest first, paged by cursor', tags: ['audiences'], querystring: ListQuery,
      response: { 200: Type.Object({ audiences: Type.Array(Audience), next_cursor: Type.Union([Type.String(), Type.Null()]) }), ...errorResponses(inputErrors, restKeyErrors) },
    },
    handler: async (req) => listAudiences(sql, req.caller.projectId, { limit: req.query.limit ?? 100, after: req.query.cursor }),
  });

  app.get<{ Params: Static<typeof IdParams> }>('/v1/audiences/:id', {
    config: { auth: 'rest' },
    schema: { summary: 'One audience, with its member count and pending changes', tags: ['audiences'], params: IdParams, response: { 200: AudienceDetail, ...errorResponses(inputErrors, restKeyErrors, 'audience_not_found') } },
    handler: async (req) => {
      const audience = await getAudience(sql, req.caller.projectId, req.params.id);
      if (!audience) throw notFound(req.params.id);
      return audience;
    },
  });

  app.delete<{ Params: Static<typeof IdParams> }>('/v1/audiences/:id', {
    config: { auth: 'rest' },
    schema: { summary: 'Delete an audience no saved segment names, with its members and pending changes', tags: ['audiences'], params: IdParams, response: { 204: Type.Null(), ...errorResponses(inputErrors, restKeyErrors, 'audience_not_found', 'audience_in_use') } },
    handler: async (req, reply) => {
      const result = await deleteAudience(sql, req.caller.projectId, req.params.id);
      if (result === 'not_found') throw notFound(req.params.id);
      if (result !== 'deleted') throw new ApiError('audience_in_use', `segment ${result.inUseBy} names this audience in its query`);
      return reply.code(204).send();
    },
  });

  app.post<{ Params: Static<typeof IdParams>; Body: Static<typeof ChangeBody> }>('/v1/audiences/:id/members', {
    config: { auth: 'rest' },
    schema: {
      summary: 'Add and remove up to 10,000 custom_ids (applied in the background)',
      description: 'Answers 202 with an indexing token once the change is stored; GET /v1/audiences/{id}/indexing/{token} reads in_process until it is applied. Removals apply after additions.',
      tags: ['audiences'], params: IdParams, body: ChangeBody,
      response: { 202: Accepted, ...errorResponses(inputErrors, restKeyErrors, 'audience_not_found', 'too_many_ids', 'invalid_idempotency_key', 'idempotency_key_reused') },
    },
    handler: async (req, reply) => {
      const add = req.body.add ?? [];
      const remove = req.body.remove ?? [];
      if (add.length + remove.length > maxIdsPerCall) {
        throw new ApiError('too_many_ids', `the call names ${add.length + remove.length} custom_ids; the limit is ${maxIdsPerCall} (upload more with POST /v1/audiences/{id}/uploads)`);
      }
      if (add.length + remove.length === 0) throw new ApiError('invalid_field', 'body: add or remove must name at least one custom_id');
      const removed = new Set(remove);
      const both = add.find((c) => removed.has(c));
      if (both !== undefined) throw new ApiError('invalid_field', `body: ${JSON.stringify(both).slice(0, 100)} is in both add and remove`);
      const now = clock.now();
      const changes: NewChange[] = [];
      if (add.length) changes.push({ id: uuidv7(now), kind: 'add', customIds: add, idCount: add.length, now });
      if (remove.length) changes.push({ id: uuidv7(now), kind: 'remove', customIds: remove, idCount: remove.length, now });
      return send(reply, await acceptChanges(req, `/v1/audiences/${req.params.id}/members`, changes));
    },
  });

  app.put<{ Params: Static<typeof IdParams>; Body: Static<typeof ReplaceBody> }>('/v1/audiences/:id/members', {
    config: { auth: 'rest' },
    schema: {
      summary: 'Replace all members with up to 10,000 custom_ids (applied in the background)',
      description: 'Answers 202 with an indexing token once the change is stored; changes accepted before it apply first.',
      tags: ['audiences'], params: IdParams, body: ReplaceBody,
      response: { 202: Accepted, ...errorResponses(inputErrors, restKeyErrors, 'audience_not_found', 'too_many_ids', 'invalid_idempotency_key', 'idempotency_key_reused') },
    },
    handler: async (req, reply) => {
      const ids = req.body.custom_ids;
      if (ids.length > maxIdsPerCall) {
        throw new ApiError('too_many_ids', `the call names ${ids.length} custom_ids; the limit is ${maxIdsPerCall} (upload more with POST /v1/audiences/{id}/uploads?mode=replace)`);
      }
      const now = clock.now();
      return send(reply, await acceptChanges(req, `/v1/audiences/${req.params.id}/members`, [{ id: uuidv7(now), kind: 'replace', customIds: ids, idCount: ids.length, now }]));
    },
  });

  app.post<{ Params: Static<typeof IdParams>; Querystring: Static<typeof UploadQuery> }>('/v1/audiences/:id/uploads', {
    config: { auth: 'rest' },
    schema: {
      summary: 'Upload millions of custom_ids to add, remove or replace (NDJSON or CSV)',
      description:
        'Content-Type: application/x-ndjson, one `{"custom_id": "…"}` a line, or text/csv with a header row naming a custom_id column. ' +
        `At most ${maxIdsPerUpload.toLocaleString('en')} ids and 256 MiB. The body is streamed and staged as a bulk job; a bad line refuses ` +
        'the whole upload (400 naming the line). Answers 202 `{indexing_token, job_id, total_ids}` once every id is stored.',
      tags: ['audiences'], params: IdParams, querystring: UploadQuery,
      response: { 202: UploadAccepted, ...errorResponses(inputErrors, restKeyErrors, 'audience_not_found', 'too_many_ids', 'too_many_uploads', 'invalid_idempotency_key', 'idempotency_key_reused') },
    },
    handler: async (req, reply) => {
      checkKey(req);
      const projectId = req.caller.projectId;
      const audienceId = req.params.id;
      const kind: ChangeKind = req.query.mode;
      // Refused before a byte is staged; a delete during the upload is caught when it is sealed.
      if (!(await audienceExists(sql, projectId, audienceId))) throw notFound(audienceId);
      const type = String(req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
      const format: UploadFormat = type === 'text/csv' ? 'csv' : 'ndjson';
      const read = idLineReader(format);
      const shape: UploadShape = {
        maxItems: maxIdsPerUpload, maxLineBytes: 64 * 1024, chunkItems: uploadChunkIds,
        item: (line, lineNo) => {
          try {
            return read(line, lineNo);
          } catch (e) {
            if (e instanceof IdLineError) throw new ApiError('invalid_field', e.message);
            throw e;
          }
        },
        body: (ids) => JSON.stringify(ids),
        tooMany: () => new ApiError('too_many_ids', `the upload has more than ${maxIdsPerUpload} custom_ids`),
        mediaTypes: 'application/x-ndjson or text/csv',
      };
      const r = await deps.uploads.stage(req, shape, async (tx, upload) => {
        if (upload.items === 0 && kind !== 'replace') throw new ApiError('invalid_field', 'body holds no custom_id');
        const token = uuidv7(clock.now());
        const hash = () => requestHash('POST', `/v1/audiences/${audienceId}/uploads?mode=${kind}&format=${format}`, upload.bodyHash.toString('hex'));
        return idempotent(tx, req, hash, { status: 202, body: { indexing_token: token, job_id: upload.importId, total_ids: upload.items } }, async () => {
          await upload.seal(tx);
          const stored = await insertChanges(tx, projectId, audienceId, [{ id: token, kind, uploadId: upload.importId, idCount: upload.items, now: clock.now() }]);
          if (!stored) throw notFound(audienceId);
          await enqueueApply(tx, projectId, audienceId);
        });
      });
      return send(reply, r);
    },
  });

  app.get<{ Params: Static<typeof TokenParams> }>('/v1/audiences/:id/indexing/:token', {
    config: { auth: 'rest' },
    schema: { summary: 'Whether an accepted change is applied yet', tags: ['audiences'], params: TokenParams, response: { 200: Indexing, ...errorResponses(inputErrors, restKeyErrors, 'audience_not_found', 'indexing_token_not_found') } },
    handler: async (req) => {
      const state = await changeState(sql, req.caller.projectId, req.params.id, req.params.token);
      if (!state) throw new ApiError('indexing_token_not_found', `no indexing token ${req.params.token} for audience ${req.params.id} in this project`);
      return state;
    },
  });
};
