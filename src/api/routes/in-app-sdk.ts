/**
 * In-app messages for devices (SDK key, CORS open; docs/in-app.md):
 *
 * - POST /v1/sdk/in-app/sync: what this installation (and its profile) may show now, rendered for
 *   it, highest priority first. A stopped message is absent from the next sync.
 * - POST /v1/sdk/in-app/check: just before a display, the same decision for one message against
 *   PostgreSQL at this moment (status, dates, the profile's current attributes and events,
 *   capping): one statement on the hot path, the message's version parsed once per process.
 * - POST /v1/sdk/in-app/events: impressions, clicks and dismissals, each client id counted once,
 *   stored with their counters (and, for a message flagged inbox, the owner's inbox item on the
 *   first impression) in one transaction; a 200 follows the commit.
 */
import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { Sql } from 'postgres';
import { systemClock, type Clock } from '../../domain/clock.js';
import { isTimeZone } from '../../domain/campaigns/local-time.js';
import { byPriority, eligibility, refusalReasons, resolveBound, syncAfterSeconds, type EligibilityInput } from '../../domain/in-app/eligibility.js';
import { personalizationScope, type ScopeProfile } from '../../domain/personalization/scope.js';
import { renderContent } from '../../domain/personalization/template.js';
import { checkClientId, InputError, limits, parseTime } from '../../domain/profile-operations.js';
import { loadInAppViewer, runningInAppMessages, scopeProfile, storeInAppEvents, type InAppViewer, type NewInAppEvent } from '../../store/in-app.js';
import { writeInAppInboxItem } from '../../store/inbox.js';
import { ApiError } from '../errors.js';
import { inAppModels, type LoadedInAppVersion } from '../in-app-models.js';
import { parseOrRefuse } from '../input-errors.js';
import type { RateLimiter } from '../rate-limit.js';
import { errorResponses, inputErrors, Nullable, OpenObject, sdkKeyErrors } from '../schemas.js';

const InstallId = Type.String({ minLength: 1, maxLength: 128 });
const MessageId = Type.String({ format: 'uuid' });
const eventTypes = ['impression', 'click', 'dismiss'] as const;

const SyncBody = Type.Object({ install_id: InstallId }, { additionalProperties: false });
const SyncedMessage = Type.Object({
  id: MessageId, version: Type.Integer(), format: Type.String(),
  content: OpenObject('The content, its templates rendered for this profile.'),
  trigger: OpenObject('{"type": "event", "event", "where"?} | {"type": "session_start"} | {"type": "asap"}.'),
  priority: Type.Integer(),
  ends_at: Nullable(Type.String({ format: 'date-time', description: 'When it ends for this recipient (local dates resolved in its zone).' })),
  recheck: Type.Boolean(),
  capping: Nullable(OpenObject('{"max_displays"?, "min_interval_seconds"?}')),
  labels: Type.Array(Type.String()),
});
const SyncAnswer = Type.Object({
  messages: Type.Array(SyncedMessage, { description: 'Highest priority first.' }),
  sync_after_seconds: Type.Integer({ description: 'Sync again after this long (sooner when a message starts or ends sooner).' }),
});
const CheckBody = Type.Object({ install_id: InstallId, message_id: MessageId, version: Type.Integer({ minimum: 1 }) }, { additionalProperties: false });
const CheckAnswer = Type.Object({
  show: Type.Boolean(),
  reason: Type.Optional(Type.Union(refusalReasons.map((r) => Type.Literal(r)), { description: 'Why not, when show is false.' })),
});
const EventsBody = Type.Object({
  install_id: InstallId,
  events: Type.Array(Type.Object({
    id: Type.String({ minLength: 1, maxLength: limits.clientIdLength, description: 'Client-generated (the SDK outbox\'s entry id): a retry of it counts nothing again.' }),
    message_id: MessageId, version: Type.Integer({ minimum: 1 }),
    type: Type.Union(eventTypes.map((t) => Type.Literal(t))),
    button_id: Type.Optional(Type.String({ minLength: 1, maxLength: 40, description: 'The clicked button (clicks).' })),
    time: Type.String({ description: 'ISO-8601 with offset: when it happened on the device.' }),
  }, { additionalProperties: false })),
}, { additionalProperties: false });
const EventsAnswer = Type.Object({
  stored: Type.Integer(),
  duplicates: Type.Integer({ description: 'Ids seen before: acknowledged, not counted again.' }),
  ignored: Type.Integer({ description: 'Events naming no in-app message of this project: acknowledged, neither stored nor counted.' }),
});

const errors = (...extra: Parameters<typeof errorResponses>) => errorResponses(inputErrors, sdkKeyErrors, 'rate_limited', ...extra);

/** The recipient's zone for local dates: the profile's, else the installation's, else the project's. */
function zoneOf(v: InAppViewer): string {
  for (const z of [v.profile?.timezone, v.installation?.timezone]) if (isTimeZone(z)) return z;
  return v.projectZone;
}

function decide(v: InAppViewer, loaded: LoadedInAppVersion, status: EligibilityInput['status'], messageId: string, now: number, evaluateAudience: boolean) {
  return eligibility({
    status, model: loaded.model, audience: loaded.audience, subject: v.subject, zone: zoneOf(v),
    displays: v.displays.get(messageId) ?? { count: 0, lastAt: null },
    recent: v.recent.map((r) => ({ at: r.at, kind: 'campaign', labels: [], channels: ['in_app'] })),
    rules: v.rules, evaluateAudience, now,
  });
}

function scopeOf(p: { custom_id: string | null; language: string | null; region: string | null; timezone: string | null; email: string | null; phone: string | null; attributes: ScopeProfile['attributes'] } | null): Record<string, unknown> {
  return personalizationScope(p
    ? { customId: p.custom_id, language: p.language, region: p.region, timezone: p.timezone, email: p.email, phone: p.phone, attributes: p.attributes }
    : { customId: null, attributes: {} });
}

export const inAppSdkRoutes = (deps: { sql: Sql; limiter: RateLimiter; clock?: Clock | undefined }): FastifyPluginAsyncTypebox => async (app) => {
  const { sql, limiter } = deps;
  const clock = deps.clock ?? systemClock;
  const models = inAppModels(sql, () => clock.now());

  app.post('/v1/sdk/in-app/sync', {
    config: { auth: 'sdk' },
    schema: {
      summary: 'The in-app messages this installation may show now, rendered for its profile, highest priority first',
      tags: ['sdk', 'in-app'], body: SyncBody, response: { 200: SyncAnswer, ...errors() },
    },
    handler: async (req) => {
      const { projectId } = req.caller;
      limiter.take('sdk', projectId, 1);
      const now = clock.now();
      const running = await runningInAppMessages(sql, projectId);
      const loaded = (await Promise.all(running.map(async (m) => ({ ...m, loaded: await models.get(projectId, m.id, m.version) }))))
        .filter((m): m is typeof m & { loaded: LoadedInAppVersion } => m.loaded !== undefined);
      const eventNames = [...new Set(loaded.flatMap((m) => m.loaded.eventNames))].sort();
      const needs = { installations: loaded.some((m) => m.loaded.needs.installations), audiences: loaded.some((m) => m.loaded.needs.audiences) };
      const viewer = await loadInAppViewer(sql, projectId, req.body.install_id, { messageId: null, eventNames, now: new Date(now), needs });
      const scope = scopeOf(viewer.profile);
      const zone = zoneOf(viewer);
      const messages = [];
      for (const m of loaded) {
        if (!decide(viewer, m.loaded, 'running', m.id, now, true).show) continue;
        const d = m.loaded.model.definition;
        const rendered = renderContent<Record<string, unknown>>(m.loaded.model.content, scope, 'content');
        // A template failing on this profile's data leaves this message out for this profile only.
        if (!rendered.ok) { req.log.warn({ messageId: m.id, error: rendered.error }, 'in-app template failed to render'); continue; }
        const ends = m.loaded.model.endsAt;
        messages.push({
          id: m.id, version: m.version, format: d.format, content: rendered.content, trigger: d.trigger, priority: d.priority,
          ends_at: ends ? new Date(resolveBound(ends, zone)).toISOString() : null, recheck: d.recheck, capping: d.capping ?? null, labels: d.labels,
        });
      }
      messages.sort(byPriority);
      return { messages, sync_after_seconds: syncAfterSeconds(loaded.map((m) => m.loaded.model), zone, now) };
    },
  });

  app.post('/v1/sdk/in-app/check', {
    config: { auth: 'sdk' },
    schema: {
      summary: 'Whether this installation may show the message now, decided against PostgreSQL at this moment',
      description: 'Status, dates, the audience over the profile\'s current attributes and events (unless the message\'s recheck is false), and capping. The current version decides when the device holds an older one.',
      tags: ['sdk', 'in-app'], body: CheckBody, response: { 200: CheckAnswer, ...errors() },
    },
    handler: async (req) => {
      const { projectId } = req.caller;
      const { install_id, message_id, version } = req.body;
      limiter.take('sdk', projectId, 1);
      const now = clock.now();
      let loaded = await models.get(projectId, message_id, version);
      const read = (v: LoadedInAppVersion | undefined) =>
        loadInAppViewer(sql, projectId, install_id, { messageId: message_id, eventNames: v?.eventNames ?? [], needs: v?.needs, now: new Date(now) });
      let viewer = await read(loaded);
      if (!viewer.message) return { show: false, reason: 'unknown_message' as const };
      if (!loaded || viewer.message.version !== version) {
        // The device holds another version (or one that does not exist): the current one decides.
        const current = await models.get(projectId, message_id, viewer.message.version);
        if (!current) return { show: false, reason: 'unknown_message' as const };
        const reads = (v: LoadedInAppVersion | undefined) => JSON.stringify(v ? [v.eventNames, v.needs] : null);
        if (reads(current) !== reads(loaded)) viewer = await read(current);
        loaded = current;
      }
      const d = decide(viewer, loaded, viewer.message?.status ?? 'stopped', message_id, now, loaded.model.definition.recheck);
      return d.show ? { show: true } : { show: false, reason: d.reason };
    },
  });

  app.post('/v1/sdk/in-app/events', {
    config: { auth: 'sdk' },
    schema: {
      summary: 'Report impressions, clicks and dismissals of in-app messages (up to 100 a call; a retried id counts once)',
      tags: ['sdk', 'in-app'], body: EventsBody, response: { 200: EventsAnswer, ...errors('too_many_events') },
    },
    handler: async (req) => {
      const { projectId } = req.caller;
      const { install_id, events } = req.body;
      if (events.length > limits.sdkEventsPerBatch) {
        throw new ApiError('too_many_events', `events has ${events.length} items; the limit is ${limits.sdkEventsPerBatch} per call`);
      }
      const nowDate = new Date(clock.now());
      const parsed = parseOrRefuse(() => events.map((e, i): NewInAppEvent => {
        const path = `events[${i}]`;
        if (e.button_id !== undefined && e.type !== 'click') throw new InputError('invalid_field', `${path}.button_id`, 'is for clicks only');
        return {
          clientId: checkClientId(e.id, `${path}.id`), messageId: e.message_id, version: e.version, type: e.type,
          buttonId: e.button_id ?? null, time: parseTime(e.time, `${path}.time`, nowDate),
        };
      }));
      limiter.take('sdk', projectId, parsed.length);
      if (!parsed.length) return { stored: 0, duplicates: 0, ignored: 0 };
      const r = await sql.begin(async (tx) => {
        const stored = await storeInAppEvents(tx, projectId, install_id, parsed, nowDate);
        // A message flagged inbox is kept in the owner's inbox from its first impression, in this transaction.
        for (const first of stored.firstDisplays) {
          const loaded = await models.get(projectId, first.messageId, first.version);
          if (!loaded?.model.definition.inbox) continue;
          const rendered = renderContent<{ title?: string; body?: string; image_url?: string; buttons?: { action: string; url?: string }[] }>(
            loaded.model.content, scopeOf(await scopeProfile(tx, projectId, stored.owner)), 'content');
          const c = rendered.ok ? rendered.content : {};
          await writeInAppInboxItem(tx, {
            projectId, messageId: first.messageId, owner: stored.owner, createdAt: nowDate,
            title: c.title ?? '', body: c.body ?? '', deeplink: c.buttons?.find((b) => b.action === 'url')?.url ?? null,
            data: { in_app: true, format: loaded.model.definition.format, ...(c.image_url ? { image_url: c.image_url } : {}) },
          });
        }
        return stored;
      });
      return { stored: r.stored, duplicates: r.known - r.stored, ignored: parsed.length - r.known };
    },
  });
};
