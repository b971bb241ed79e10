/**
 * Exports (/v1/exports): a campaign's recipients and outcomes, events, profiles with chosen
 * attributes, or a segment's members, as CSV or NDJSON. Asked for with one call (202), written by
 * the worker page by page into a file in the data folder (worker/export-run.ts), followed by its
 * progress, and fetched through a signed link that expires, so a browser or a script can download
 * it without the API key. The file is streamed from disk: a million rows cost no memory here.
 */
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { Type, type Static } from '@sinclair/typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { Sql } from 'postgres';
import type { WorkQueue } from '../../queue/queue.js';
import { systemClock, type Clock } from '../../domain/clock.js';
import { uuidv7 } from '../../domain/ids.js';
import { parseQuery, QueryError, type Query } from '../../domain/targeting/query.js';
import { expandSegments } from '../../domain/targeting/segments.js';
import { exportFileName, exportKinds, exportRetentionMs, type ExportParams } from '../../domain/exports/definition.js';
import { defaultLinkSeconds, exportLinkKey, maxLinkSeconds, signExportLink, verifyExportLink } from '../../domain/exports/link.js';
import { getExport, insertExport, listExports, type ExportRow } from '../../store/exports.js';
import { exportFilePath } from '../../store/export-files.js';
import { getSegment, segmentQueries } from '../../store/segments.js';
import { getCampaign } from '../../store/campaigns.js';
import { topics, type ExportPayload } from '../../worker/topics.js';
import { ApiError } from '../errors.js';
import { DateTime, errorResponses, inputErrors, Nullable, restKeyErrors } from '../schemas.js';

export interface ExportRouteDeps {
  sql: Sql;
  queue: WorkQueue;
  /** Where the worker writes the files (store/export-files.ts). */
  exportsDir: string;
  /** The deployment's link secret; the links' own key is derived from it (domain/exports/link.ts). */
  linkSecret: Buffer;
  /** Herald's public URL, which download links start with. */
  publicUrl?: string | undefined;
  clock?: Clock | undefined;
}

const id = Type.String({ pattern: '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' });
const attributeName = Type.String({ minLength: 1, maxLength: 128 });

const CreateBody = Type.Object({
  kind: Type.Union(exportKinds.map((k) => Type.Literal(k)), {
    description: '`profiles` (native fields and attributes), `segment_members` (custom_id and chosen attributes), `events`, `campaign_recipients` (each recipient of each occurrence and their outcome).' }),
  format: Type.Union([Type.Literal('csv'), Type.Literal('ndjson')], { description: 'CSV (RFC 4180, a header line) or NDJSON (one JSON object per line).' }),
  segment_id: Type.Optional(Type.String({ description: 'profiles: only this segment\'s members; segment_members: required.' })),
  query: Type.Optional(Type.Unsafe<unknown>({ type: 'object', additionalProperties: true, description: 'profiles: only the profiles matching this targeting query (docs/campaigns.md).' })),
  attributes: Type.Optional(Type.Array(attributeName, { maxItems: 200, uniqueItems: true, description: 'profiles, segment_members: the custom attributes to write (profiles without it: all, as one JSON column in CSV).' })),
  campaign_id: Type.Optional(Type.String({ description: 'campaign_recipients: required.' })),
  from: Type.Optional(Type.String({ format: 'date-time', description: 'events: from this instant (included).' })),
  to: Type.Optional(Type.String({ format: 'date-time', description: 'events: until this instant (excluded).' })),
  names: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 256 }), { maxItems: 100, description: 'events: only these event names.' })),
}, { additionalProperties: false });

const Export = Type.Object({
  id: Type.String(),
  kind: Type.Union(exportKinds.map((k) => Type.Literal(k))),
  format: Type.Union([Type.Literal('csv'), Type.Literal('ndjson')]),
  state: Type.Union([Type.Literal('running'), Type.Literal('done'), Type.Literal('failed'), Type.Literal('expired')]),
  rows: Type.Integer({ description: 'Rows written so far.' }),
  total: Nullable(Type.Integer({ description: 'Rows the export will hold, exact; null until its first page is written.' })),
  bytes: Type.Integer(),
  error: Nullable(Type.String()),
  created_at: DateTime,
  finished_at: Nullable(DateTime),
  expires_at: Type.Unsafe<Date | string>({ type: 'string', format: 'date-time', description: 'The file is deleted then.' }),
  download: Nullable(Type.Object({
    url: Type.String({ description: 'Works without an API key until `expires_at`; an edited link is refused.' }),
    expires_at: DateTime,
  })),
});
type ExportView = Static<typeof Export>;

const LinkQuery = Type.Object({
  link_seconds: Type.Optional(Type.Integer({ minimum: 60, maximum: maxLinkSeconds, description: `How long the download link works (default ${defaultLinkSeconds}).` })),
});
const FileQuery = Type.Object({ expires: Type.Integer({ minimum: 0 }), signature: Type.String({ maxLength: 64 }) });

export const exportRoutes = (deps: ExportRouteDeps): FastifyPluginAsyncTypebox => async (app) => {
  const { sql } = deps;
  const clock = deps.clock ?? systemClock;
  const key = exportLinkKey(deps.linkSecret);

  const view = (e: ExportRow, linkSeconds = defaultLinkSeconds): ExportView => {
    let download: ExportView['download'] = null;
    if (e.state === 'done') {
      const expires = Math.floor(Math.min(clock.now() + linkSeconds * 1000, e.expires_at.getTime()) / 1000);
      const link = signExportLink(key, e.id, e.project_id, expires);
      const path = `/v1/exports/${e.id}/file?expires=${link.expires}&signature=${link.signature}`;
      download = { url: (deps.publicUrl?.replace(/\/$/, '') ?? '') + path, expires_at: new Date(expires * 1000) };
    }
    return {
      id: e.id, kind: e.kind, format: e.format, state: e.state, rows: e.rows, total: e.total, bytes: e.bytes, error: e.error,
      created_at: e.created_at, finished_at: e.finished_at, expires_at: e.expires_at, download,
    };
  };

  /** The parameters an export reads, fixed now; every error names its field. */
  const paramsOf = async (projectId: string, b: Static<typeof CreateBody>): Promise<ExportParams> => {
    const now = clock.now();
    const only = (allowed: string[]) => {
      for (const f of ['segment_id', 'query', 'attributes', 'campaign_id', 'from', 'to', 'names'] as const) {
        if (b[f] !== undefined && !allowed.includes(f)) throw new ApiError('invalid_export', `body.${f} does not apply to a ${b.kind} export`);
      }
    };
    const expanded = async (input: unknown, path: string): Promise<Query> => {
      try {
        const q = parseQuery(input, path);
        const saved = await segmentQueries(sql, projectId, q);
        return expandSegments(q, (s) => saved.get(s), path);
      } catch (e) {
        if (e instanceof QueryError) throw new ApiError('invalid_query', e.message);
        throw e;
      }
    };
    const segmentQuery = async (segmentId: string) => {
      const s = /^[0-9a-f-]{36}$/.test(segmentId) ? await getSegment(sql, projectId, segmentId) : undefined;
      if (!s) throw new ApiError('segment_not_found', `no segment ${segmentId} in this project`);
      return expanded(s.query, 'segment.query');
    };
    switch (b.kind) {
      case 'profiles': {
        only(['segment_id', 'query', 'attributes']);
        if (b.segment_id !== undefined && b.query !== undefined) throw new ApiError('invalid_export', 'body.segment_id and body.query: give one of them');
        const query = b.segment_id !== undefined ? await segmentQuery(b.segment_id) : b.query !== undefined ? await expanded(b.query, 'body.query') : null;
        return { kind: 'profiles', query, attributes: b.attributes ?? null, as_of: now };
      }
      case 'segment_members': {
        only(['segment_id', 'attributes']);
        if (b.segment_id === undefined) throw new ApiError('invalid_export', 'body.segment_id is required for a segment_members export');
        return { kind: 'segment_members', segment_id: b.segment_id, query: await segmentQuery(b.segment_id), attributes: b.attributes ?? [], as_of: now };
      }
      case 'events': {
        only(['from', 'to', 'names']);
        const from = b.from === undefined ? null : Date.parse(b.from);
        const to = b.to === undefined ? null : Date.parse(b.to);
        if (from !== null && to !== null && to <= from) throw new ApiError('invalid_export', 'body.to must be after body.from');
        return { kind: 'events', from, to, names: b.names ?? null };
      }
      case 'campaign_recipients': {
        only(['campaign_id']);
        if (b.campaign_id === undefined) throw new ApiError('invalid_export', 'body.campaign_id is required for a campaign_recipients export');
        const c = /^[0-9a-f-]{36}$/.test(b.campaign_id) ? await getCampaign(sql, projectId, b.campaign_id) : undefined;
        if (!c) throw new ApiError('campaign_not_found', `no campaign ${b.campaign_id} in this project`);
        return { kind: 'campaign_recipients', campaign_id: b.campaign_id };
      }
    }
  };

  app.post('/v1/exports', {
    config: { auth: 'rest' },
    schema: {
      summary: 'Export rows as CSV or NDJSON: answered at once, written in the background (follow GET /v1/exports/{id})', tags: ['exports'],
      body: CreateBody,
      response: { 202: Export, ...errorResponses(inputErrors, restKeyErrors, 'invalid_export', 'invalid_query', 'segment_not_found', 'campaign_not_found') },
    },
    handler: async (req, reply) => {
      const projectId = req.caller.projectId;
      const params = await paramsOf(projectId, req.body);
      const now = new Date(clock.now());
      const row = await sql.begin(async (tx) => {
        const e = await insertExport(tx, { id: uuidv7(now.getTime()), projectId, format: req.body.format, params, now, expiresAt: new Date(now.getTime() + exportRetentionMs) });
        await deps.queue.enqueue(tx, [{ topic: topics.exportPage, payload: { export_id: e.id, page: 0 } satisfies ExportPayload }]);
        return e;
      });
      return reply.code(202).send(view(row));
    },
  });

  app.get('/v1/exports', {
    config: { auth: 'rest' },
    schema: {
      summary: 'The project\'s exports, newest first, paged by cursor', tags: ['exports'],
      querystring: Type.Object({ limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100 })), cursor: Type.Optional(id) }),
      response: { 200: Type.Object({ exports: Type.Array(Export), next_cursor: Nullable(Type.String()) }), ...errorResponses(inputErrors, restKeyErrors) },
    },
    handler: async (req) => {
      const page = await listExports(sql, req.caller.projectId, { limit: req.query.limit ?? 20, after: req.query.cursor });
      return { exports: page.exports.map((e) => view(e)), next_cursor: page.next_cursor };
    },
  });

  app.get('/v1/exports/:id', {
    config: { auth: 'rest' },
    schema: {
      summary: 'One export: its progress, and once done a signed download link', tags: ['exports'],
      params: Type.Object({ id }), querystring: LinkQuery,
      response: { 200: Export, ...errorResponses(inputErrors, restKeyErrors, 'export_not_found') },
    },
    handler: async (req) => {
      const e = await getExport(sql, req.caller.projectId, req.params.id);
      if (!e) throw new ApiError('export_not_found', `no export ${req.params.id} in this project`);
      return view(e, req.query.link_seconds);
    },
  });

  app.get('/v1/exports/:id/file', {
    schema: {
      summary: 'An export\'s file, through the signed link GET /v1/exports/{id} gives (no API key)', tags: ['exports'], security: [],
      params: Type.Object({ id }), querystring: FileQuery,
      response: {
        200: { description: 'The file: text/csv or application/x-ndjson, as an attachment.', content: { 'text/csv': { schema: { type: 'string' } }, 'application/x-ndjson': { schema: { type: 'string' } } } },
        ...errorResponses(inputErrors, 'export_link_invalid', 'export_link_expired', 'export_not_found'),
      },
    },
    handler: async (req, reply) => {
      const [row] = await sql<{ project_id: string }[]>`select project_id from exports where id = ${req.params.id}`;
      // An unknown export and a forged link look the same: a link reveals nothing it was not signed for.
      const verdict = row ? verifyExportLink(key, req.params.id, row.project_id, req.query.expires, req.query.signature, clock.now()) : 'forged';
      if (verdict === 'forged') throw new ApiError('export_link_invalid', 'this download link was not issued by Herald, or was changed');
      if (verdict === 'expired') throw new ApiError('export_link_expired', 'this download link has expired: GET /v1/exports/{id} gives a new one');
      const e = (await getExport(sql, row!.project_id, req.params.id))!;
      if (e.state !== 'done') throw new ApiError('export_not_found', `export ${e.id} is ${e.state}: it has no file to download`);
      const path = exportFilePath(deps.exportsDir, e);
      const size = await stat(path).then((s) => s.size, () => undefined);
      // The committed length: a page being rewritten after a crash is never served (the export is done here, so none is).
      if (size === undefined || size < e.bytes) throw new ApiError('export_not_found', `export ${e.id}'s file is not in this process's data folder`);
      void reply
        .header('content-type', e.format === 'csv' ? 'text/csv; charset=utf-8' : 'application/x-ndjson')
        .header('content-disposition', `attachment; filename="${exportFileName(e.kind, e.id, e.format)}"`)
        .header('content-length', String(e.bytes))
        .header('cache-control', 'private, no-store');
      return reply.send(e.bytes === 0 ? '' : createReadStream(path, { start: 0, end: e.bytes - 1 }));
    },
  });
};
