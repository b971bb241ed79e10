/**
 * Saved segments (/v1/segments): named targeting queries (domain/targeting/), their exact counts
 * and a preview of a few matching profiles; an inline query can be counted and previewed without
 * saving it. Every query is parsed before anything is stored or run, and a bad one is a 400
 * naming the path of the bad node; the segments it names must exist and never contain themselves.
 */
import { performance } from 'node:perf_hooks';
import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { Sql } from 'postgres';
import { systemClock, type Clock } from '../../domain/clock.js';
import { uuidv7 } from '../../domain/ids.js';
import { parseQuery, QueryError, type Query } from '../../domain/targeting/query.js';
import { expandSegments } from '../../domain/targeting/segments.js';
import { deleteSegment, getSegment, insertSegment, listSegments, segmentQueries, updateSegment } from '../../store/segments.js';
import { countMatching, previewMatching } from '../../store/targeting.js';
import { ApiError } from '../errors.js';
import { DateTime, errorResponses, inputErrors, NoContent, OpenObject, restKeyErrors } from '../schemas.js';

export interface SegmentRouteDeps {
  sql: Sql;
  clock?: Clock | undefined;
}

// Typed unknown: parseQuery (domain/targeting/query.ts) reads it and names the path of a bad node.
const QueryJson = Type.Unsafe<unknown>({
  type: 'object',
  additionalProperties: true,
  description:
    'A targeting query (docs/campaigns.md): {"all"|"any": [queries]}, {"not": query}, {"attribute": name, <op>: value}, ' +
    '{"field": native field, <op>: value}, {"event": name, "count"?, "within_days"? | "since"?, "where"?}, ' +
    '{"installation": {"platform"?, "push_enabled"?, "app_version"?, "sdk_version"?}}, {"audience": id}, {"segment": id}.',
});
const id = Type.String({ pattern: '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' });
const IdParams = Type.Object({ id });
const name = Type.String({ minLength: 1, maxLength: 200 });
const description = Type.Union([Type.String({ maxLength: 2000 }), Type.Null()]);
const CreateBody = Type.Object({ name, description: Type.Optional(description), query: QueryJson }, { additionalProperties: false });
const UpdateBody = Type.Object({ name: Type.Optional(name), description: Type.Optional(description), query: Type.Optional(QueryJson) }, { additionalProperties: false, minProperties: 1 });
const ListQuery = Type.Object({ limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 100 })), cursor: Type.Optional(id) }, { additionalProperties: false });
const InlineBody = Type.Object({ query: QueryJson }, { additionalProperties: false });
const PreviewBody = Type.Object({ query: QueryJson, limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 50, default: 10 })) }, { additionalProperties: false });

const Segment = Type.Object({
  id, name, description, query: QueryJson,
  created_at: DateTime, updated_at: DateTime,
});
const Count = Type.Object({ count: Type.Integer(), took_ms: Type.Number({ description: 'How long the exact count took in PostgreSQL.' }) });
const Preview = Type.Object({
  profiles: Type.Array(Type.Object({
    custom_id: Type.String(), language: Type.Union([Type.String(), Type.Null()]), region: Type.Union([Type.String(), Type.Null()]),
    timezone: Type.Union([Type.String(), Type.Null()]), attributes: OpenObject(),
  })),
});

/** Counts and previews are POSTs (they carry a query) that change nothing: a viewer may run them, and they are not audited. */
const readOnly = { role: 'viewer', audit: false } as const;

export const segmentRoutes = (deps: SegmentRouteDeps): FastifyPluginAsyncTypebox => async (app) => {
  const { sql } = deps;
  const clock = deps.clock ?? systemClock;

  /** Parses `input` at `path` and expands the segments it names (with `self` about to become `input`). */
  const checked = async (projectId: string, input: unknown, path: string, self?: string): Promise<Query> => {
    try {
      const query = parseQuery(input, path);
      const saved = await segmentQueries(sql, projectId, query, self === undefined ? undefined : { id: self, query });
      return expandSegments(query, (s) => saved.get(s), path);
    } catch (e) {
      if (e instanceof QueryError) throw new ApiError('invalid_query', e.message);
      throw e;
    }
  };
  const savedQuery = async (projectId: string, segmentId: string): Promise<Query> => {
    const segment = await getSegment(sql, projectId, segmentId);
    if (!segment) throw new ApiError('segment_not_found', `no segment ${segmentId} in this project`);
    return checked(projectId, segment.query, 'segment.query');
  };
  const count = async (projectId: string, query: Query) => {
    const started = performance.now();
    const n = await countMatching(sql, projectId, query, clock.now());
    return { count: n, took_ms: Math.round((performance.now() - started) * 10) / 10 };
  };

  app.post('/v1/segments', {
    config: { auth: 'rest' },
    schema: { summary: 'Save a segment: a named targeting query', tags: ['segments'], body: CreateBody, response: { 201: Segment, ...errorResponses(inputErrors, restKeyErrors, 'invalid_query', 'segment_not_found', 'segment_name_taken') } },
    handler: async (req, reply) => {
      const projectId = req.caller.projectId;
      const segmentId = uuidv7(clock.now());
      await checked(projectId, req.body.query, 'body.query', segmentId);
      const saved = await insertSegment(sql, projectId, { id: segmentId, name: req.body.name, description: req.body.description ?? null, query: req.body.query, now: clock.now() });
      if (saved === 'name_taken') throw new ApiError('segment_name_taken', `this project already has a segment named ${JSON.stringify(req.body.name)}`);
      return reply.code(201).send(saved);
    },
  });

  app.get('/v1/segments', {
    config: { auth: 'rest' },
    schema: { summary: 'The project\'s segments, oldest first, paged by cursor', tags: ['segments'], querystring: ListQuery, response: { 200: Type.Object({ segments: Type.Array(Segment), next_cursor: Type.Union([Type.String(), Type.Null()]) }), ...errorResponses(inputErrors, restKeyErrors) } },
    handler: async (req) => listSegments(sql, req.caller.projectId, { limit: req.query.limit ?? 100, after: req.query.cursor }),
  });

  app.get('/v1/segments/:id', {
    config: { auth: 'rest' },
    schema: { summary: 'One segment', tags: ['segments'], params: IdParams, response: { 200: Segment, ...errorResponses(inputErrors, restKeyErrors, 'segment_not_found') } },
    handler: async (req) => {
      const segment = await getSegment(sql, req.caller.projectId, req.params.id);
      if (!segment) throw new ApiError('segment_not_found', `no segment ${req.params.id} in this project`);
      return segment;
    },
  });

  app.patch('/v1/segments/:id', {
    config: { auth: 'rest' },
    schema: { summary: 'Change a segment\'s name, description or query; campaigns naming it see the new query', tags: ['segments'], params: IdParams, body: UpdateBody, response: { 200: Segment, ...errorResponses(inputErrors, restKeyErrors, 'invalid_query', 'segment_not_found', 'segment_name_taken') } },
    handler: async (req) => {
      const projectId = req.caller.projectId;
      if (req.body.query !== undefined) await checked(projectId, req.body.query, 'body.query', req.params.id);
      const updated = await updateSegment(sql, projectId, req.params.id, { ...req.body, now: clock.now() });
      if (updated === 'name_taken') throw new ApiError('segment_name_taken', `this project already has a segment named ${JSON.stringify(req.body.name)}`);
      if (!updated) throw new ApiError('segment_not_found', `no segment ${req.params.id} in this project`);
      return updated;
    },
  });

  app.delete('/v1/segments/:id', {
    config: { auth: 'rest' },
    schema: { summary: 'Delete a segment no other segment names', tags: ['segments'], params: IdParams, response: { 204: NoContent, ...errorResponses(inputErrors, restKeyErrors, 'segment_not_found', 'segment_in_use') } },
    handler: async (req, reply) => {
      const result = await deleteSegment(sql, req.caller.projectId, req.params.id);
      if (result === 'not_found') throw new ApiError('segment_not_found', `no segment ${req.params.id} in this project`);
      if (result !== 'deleted') throw new ApiError('segment_in_use', `segment ${result.inUseBy} names this segment in its query`);
      return reply.code(204).send();
    },
  });

  app.post('/v1/segments/:id/count', {
    config: { auth: 'rest', ...readOnly },
    schema: { summary: 'How many profiles the segment matches now, exactly', tags: ['segments'], params: IdParams, response: { 200: Count, ...errorResponses(inputErrors, restKeyErrors, 'invalid_query', 'segment_not_found') } },
    handler: async (req) => count(req.caller.projectId, await savedQuery(req.caller.projectId, req.params.id)),
  });

  app.post('/v1/segments/count', {
    config: { auth: 'rest', ...readOnly },
    schema: { summary: 'How many profiles an unsaved query matches now, exactly', tags: ['segments'], body: InlineBody, response: { 200: Count, ...errorResponses(inputErrors, restKeyErrors, 'invalid_query', 'segment_not_found') } },
    handler: async (req) => count(req.caller.projectId, await checked(req.caller.projectId, req.body.query, 'body.query')),
  });

  app.post('/v1/segments/:id/preview', {
    config: { auth: 'rest', ...readOnly },
    schema: { summary: 'A few profiles the segment matches (custom_id order)', tags: ['segments'], params: IdParams, response: { 200: Preview, ...errorResponses(inputErrors, restKeyErrors, 'invalid_query', 'segment_not_found') } },
    handler: async (req) => {
      const query = await savedQuery(req.caller.projectId, req.params.id);
      return { profiles: await previewMatching(sql, req.caller.projectId, query, clock.now(), 10) };
    },
  });

  app.post('/v1/segments/preview', {
    config: { auth: 'rest', ...readOnly },
    schema: { summary: 'A few profiles an unsaved query matches (custom_id order)', tags: ['segments'], body: PreviewBody, response: { 200: Preview, ...errorResponses(inputErrors, restKeyErrors, 'invalid_query', 'segment_not_found') } },
    handler: async (req) => {
      const query = await checked(req.caller.projectId, req.body.query, 'body.query');
      return { profiles: await previewMatching(sql, req.caller.projectId, query, clock.now(), req.body.limit ?? 10) };
    },
  });
};
