/**
 * The inbox over HTTP (docs/inbox.md): a page newest first with the exact unread count, and marks
 * (read, opened, archived). The REST key reads and marks any profile's or installation's inbox
 * (GET /v1/inbox, POST /v1/inbox/mark). The SDK routes (POST /v1/sdk/inbox, /v1/sdk/inbox/mark,
 * CORS open: api/sdk-cors.ts) take the public SDK key, so a profile's inbox needs its custom_id's
 * identity token (domain/identity-token.ts, the one SDK identity already uses): one user can never
 * read another's. An anonymous installation's inbox is reached by its install_id, as every other
 * SDK call of an anonymous installation is (api/identity-guard.ts).
 */
import { Type, type Static } from '@sinclair/typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyRequest } from 'fastify';
import type { Sql } from 'postgres';
import { checkCustomId } from '../../domain/profile-operations.js';
import { decodeInboxCursor, type InboxOwner } from '../../domain/inbox.js';
import { verifyIdentityToken } from '../../domain/identity-token.js';
import { systemClock, type Clock } from '../../domain/clock.js';
import { defaultInboxRetentionDays, inboxActions, inboxCutoff, inboxPage, markInbox, type InboxPage } from '../../store/inbox.js';
import { identitySecrets } from '../../store/identity-secrets.js';
import type { Keyring } from '../../store/sealed.js';
import { ApiError } from '../errors.js';
import { parseOrRefuse } from '../input-errors.js';
import type { RateLimiter } from '../rate-limit.js';
import { DateTime, errorResponses, IdentityToken, inputErrors, Nullable, restKeyErrors, sdkKeyErrors } from '../schemas.js';

/** Items per page at most; 20 unless asked. */
const maxPage = 100;
/** Items one mark names at most (or `all`). */
const maxMarked = 100;

const Owner = {
  custom_id: Type.Optional(Type.String({ minLength: 1, maxLength: 256, description: 'The profile whose inbox this is (every device of the custom_id).' })),
  install_id: Type.Optional(Type.String({ minLength: 1, maxLength: 128, description: 'An installation without a custom_id; give custom_id or install_id.' })),
};
const Paging = {
  cursor: Type.Optional(Type.String({ minLength: 1, maxLength: 200, pattern: '^[A-Za-z0-9_-]+$', description: 'next_cursor of the page before.' })),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: maxPage, default: 20 })),
  archived: Type.Optional(Type.Boolean({ default: false, description: 'true: the archived items instead of the others.' })),
};
const Marks = {
  ids: Type.Optional(Type.Array(Type.String({ format: 'uuid' }), { minItems: 1, maxItems: maxMarked, description: 'The items (their message ids); or all.' })),
  all: Type.Optional(Type.Literal(true, { description: 'Every item of the inbox.' })),
  action: Type.Union(inboxActions.map((a) => Type.Literal(a)), { description: 'read; opened (also reads it); archived (also reads it); unarchived.' }),
};

const PageQuery = Type.Object({ ...Owner, ...Paging }, { additionalProperties: false });
const MarkBody = Type.Object({ ...Owner, ...Marks }, { additionalProperties: false });
const SdkPageBody = Type.Object({ ...Owner, identity_token: Type.Optional(IdentityToken), ...Paging }, { additionalProperties: false });
const SdkMarkBody = Type.Object({ ...Owner, identity_token: Type.Optional(IdentityToken), ...Marks }, { additionalProperties: false });

const Item = Type.Object({
  id: Type.String({ format: 'uuid', description: 'The message\'s id: one item per message per inbox.' }),
  created_at: DateTime,
  title: Type.String(),
  body: Type.String(),
  deeplink: Nullable(Type.String()),
  data: Nullable(Type.Record(Type.String(), Type.Unknown())),
  read_at: Nullable(DateTime),
  opened_at: Nullable(DateTime),
  archived_at: Nullable(DateTime),
});
const Page = Type.Object({
  items: Type.Array(Item),
  unread: Type.Integer({ description: 'Unread items of the whole inbox, exact, counted with this page.' }),
  next_cursor: Nullable(Type.String({ description: 'Pass it as cursor for the next page; null on the last one.' })),
});
const Marked = Type.Object({
  updated: Type.Integer({ description: 'Items whose state changed (one already in that state is left as it was).' }),
  unread: Type.Integer({ description: 'Unread items of the inbox after the change, exact.' }),
});

const restErrors = errorResponses(inputErrors, restKeyErrors);
const sdkErrors = errorResponses(inputErrors, sdkKeyErrors, 'rate_limited', 'identity_required', 'invalid_identity_token');

type OwnerFields = { custom_id?: string | undefined; install_id?: string | undefined };

/** The inbox the fields name: exactly one of custom_id and install_id. */
function ownerOf(b: OwnerFields, where: string): InboxOwner {
  if (b.custom_id !== undefined && b.install_id !== undefined) throw new ApiError('invalid_field', `${where}: give custom_id or install_id, not both`);
  if (b.custom_id !== undefined) return { kind: 'profile', id: parseOrRefuse(() => checkCustomId(b.custom_id, `${where}.custom_id`)) };
  if (b.install_id !== undefined) return { kind: 'installation', id: b.install_id };
  throw new ApiError('missing_field', `${where}: give custom_id (a profile's inbox) or install_id (an anonymous installation's)`);
}

function markedItems(b: { ids?: string[] | undefined; all?: true | undefined }): readonly string[] | 'all' {
  if (b.ids !== undefined && b.all !== undefined) throw new ApiError('invalid_field', 'body: give ids or all, not both');
  if (b.all) return 'all';
  if (b.ids) return b.ids;
  throw new ApiError('missing_field', 'body: give ids (the items to mark) or all: true');
}

function cursorOf(text: string | undefined, where: string) {
  if (text === undefined) return undefined;
  const c = decodeInboxCursor(text);
  if (!c) throw new ApiError('invalid_field', `${where}.cursor is not a cursor this API gave; pass next_cursor as it came`);
  return c;
}

export const inboxRoutes = (deps: { sql: Sql; keyring: Keyring; limiter: RateLimiter; clock?: Clock | undefined; retentionDays?: number | undefined }): FastifyPluginAsyncTypebox => async (app) => {
  const { sql, keyring, limiter } = deps;
  const clock = deps.clock ?? systemClock;
  const retention = deps.retentionDays ?? defaultInboxRetentionDays;
  const since = (now: Date) => inboxCutoff(now, retention);

  const page = (projectId: string, owner: InboxOwner, q: Static<typeof PageQuery>, where: string): Promise<InboxPage> =>
    inboxPage(sql, projectId, owner, { limit: q.limit ?? 20, cursor: cursorOf(q.cursor, where), archived: q.archived ?? false, since: since(new Date(clock.now())) });
  const mark = (projectId: string, owner: InboxOwner, b: Static<typeof MarkBody>) => {
    const ids = markedItems(b);
    const now = new Date(clock.now());
    return markInbox(sql, projectId, owner, { ids, action: b.action, since: since(now), now });
  };

  /**
   * The inbox an SDK call may read: a profile's with its custom_id's identity token (the REST key
   * needs none); an installation's by install_id while it has no custom_id. Once attached to
   * one, the device reads its profile's inbox (by custom_id, with the token) instead.
   */
  const sdkOwner = async (req: FastifyRequest, b: OwnerFields & { identity_token?: string | undefined }): Promise<InboxOwner> => {
    const owner = ownerOf(b, 'body');
    const { projectId } = req.caller;
    limiter.take('sdk', projectId, 1);
    if (req.caller.kind === 'rest') return owner;
    if (owner.kind === 'installation') {
      const [row] = await sql<{ custom_id: string | null }[]>`
        select custom_id from installations where project_id = ${projectId} and install_id = ${owner.id}`;
      if (row?.custom_id != null) {
        throw new ApiError('identity_required', 'this installation is attached to a custom_id: read its inbox with custom_id and that custom_id\'s identity_token');
      }
      return owner;
    }
    if (b.identity_token === undefined) {
      throw new ApiError('identity_required', 'a profile\'s inbox needs identity_token, the HMAC-SHA256 (hex) of the custom_id under the project\'s identity secret');
    }
    if (!verifyIdentityToken(await identitySecrets(sql, keyring, projectId), owner.id, b.identity_token)) {
      throw new ApiError('invalid_identity_token', 'identity_token is not the HMAC-SHA256 of this custom_id under the project\'s identity secret');
    }
    return owner;
  };

  app.get('/v1/inbox', {
    config: { auth: 'rest' },
    schema: {
      summary: 'A profile\'s or an installation\'s inbox, newest first, paged by cursor, with the unread count',
      tags: ['inbox'], querystring: PageQuery, response: { 200: Page, ...restErrors },
    },
    handler: async (req) => page(req.caller.projectId, ownerOf(req.query, 'querystring'), req.query, 'querystring'),
  });

  app.post('/v1/inbox/mark', {
    config: { auth: 'rest' },
    schema: {
      summary: 'Mark inbox items (or all of them) read, opened, archived or unarchived',
      tags: ['inbox'], body: MarkBody, response: { 200: Marked, ...restErrors },
    },
    handler: async (req) => mark(req.caller.projectId, ownerOf(req.body, 'body'), req.body),
  });

  app.post('/v1/sdk/inbox', {
    config: { auth: 'sdk' },
    schema: {
      summary: 'The app\'s inbox, newest first, paged by cursor, with the unread count',
      description: 'With the SDK key: custom_id needs its identity_token; install_id reads the inbox of an installation without a custom_id.',
      tags: ['sdk', 'inbox'], body: SdkPageBody, response: { 200: Page, ...sdkErrors },
    },
    handler: async (req) => {
      const { identity_token: _t, ...q } = req.body;
      return page(req.caller.projectId, await sdkOwner(req, req.body), q, 'body');
    },
  });

  app.post('/v1/sdk/inbox/mark', {
    config: { auth: 'sdk' },
    schema: {
      summary: 'Mark the app\'s inbox items (or all of them) read, opened, archived or unarchived',
      description: 'The same owner rules as POST /v1/sdk/inbox.',
      tags: ['sdk', 'inbox'], body: SdkMarkBody, response: { 200: Marked, ...sdkErrors },
    },
    handler: async (req) => {
      const { identity_token: _t, ...b } = req.body;
      return mark(req.caller.projectId, await sdkOwner(req, req.body), b);
    },
  });
};
