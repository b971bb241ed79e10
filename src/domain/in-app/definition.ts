/**
 * An in-app message's definition (docs/in-app.md): its grammar and the parser that turns untrusted
 * JSON into the model the sync and the display check use, naming the path of the first bad field
 * (`body.content.buttons[1].url`). The audience is the targeting language (targeting/query.ts),
 * parsed by its own parser; an event trigger's `where` is the automations' event filter (a
 * targeting event node without count or window); every text of the content may be Liquid,
 * compiled here so a template that would fail at display time is refused at creation.
 *
 *   { "name": "Winter sale", "format": "modal",
 *     "content": { "title": "Hi {{ first_name | default: 'there' }}", "body": "…",
 *                  "buttons": [{ "id": "go", "label": "Shop", "action": "url", "url": "https://…" }] },
 *     "trigger": { "type": "event", "event": "cart_viewed", "where": [{ "attribute": "total", "gte": 20 }] },
 *     "audience": { "attribute": "tier", "eq": "gold" }, "priority": 80,
 *     "starts_at": "2026-12-20T09:00:00Z", "ends_at": "2026-12-24T18:00:00Z", "local_dates": true,
 *     "capping": { "max_displays": 3, "min_interval_seconds": 86400 }, "labels": ["sale"], "inbox": true }
 *
 * The stored JSON is the normalized definition (defaults filled in); it is parsed again where it
 * is used, once per version and process (definitions never change: a change is a new version).
 */
import { compileContent, type CompiledNode, type TemplateError } from '../personalization/template.js';
import { parseQuery, QueryError, type Query } from '../targeting/query.js';

/** A bad definition: `path` names the field; the message never echoes a value. */
export class InAppDefinitionError extends Error {
  constructor(readonly path: string, readonly reason: string, readonly kind: 'definition' | 'query' | 'template' = 'definition') {
    super(`${path} ${reason}`);
  }
}

export const inAppFormats = ['modal', 'banner', 'fullscreen', 'image', 'html'] as const;
export type InAppFormat = (typeof inAppFormats)[number];

export const inAppLimits = {
  nameLength: 200,
  textLength: 4_096,
  /** An html message's document: room for inline CSS and images by URL, not a web application. */
  htmlLength: 262_144,
  urlLength: 2_048,
  buttons: 4,
  labels: 20,
  labelLength: 100,
  /** Lifetime displays per profile (or anonymous installation) of one message. */
  maxDisplays: 1_000_000,
  /** A year between two displays at most. */
  minIntervalSeconds: 366 * 86_400,
} as const;

export const defaultPriority = 50;

export type InAppTrigger =
  | { type: 'event'; event: string; where?: unknown[] | undefined }
  | { type: 'session_start' }
  | { type: 'asap' };

export interface InAppCapping {
  max_displays?: number | undefined;
  min_interval_seconds?: number | undefined;
}

/** The definition as stored and shown: what the API took, its defaults filled in. */
export interface InAppDefinition {
  name: string;
  format: InAppFormat;
  content: Record<string, unknown>;
  trigger: InAppTrigger;
  audience?: unknown;
  priority: number;
  starts_at?: string | undefined;
  ends_at?: string | undefined;
  local_dates: boolean;
  capping?: InAppCapping | undefined;
  labels: string[];
  inbox: boolean;
  recheck: boolean;
}

/**
 * A date bound: an instant, or (local_dates) a wall time read in each recipient's zone: the
 * digits of the date-time as written, its offset ignored.
 */
export type DateBound =
  | { kind: 'instant'; ms: number }
  | { kind: 'local'; date: { year: number; month: number; day: number }; time: { hour: number; minute: number }; second: number };

export interface InAppModel {
  definition: InAppDefinition;
  /** null: everyone. Saved segments not yet expanded. */
  audience: Query | null;
  /** The content's texts compiled (Liquid), rendered per profile at sync. */
  content: CompiledNode;
  startsAt: DateBound | null;
  endsAt: DateBound | null;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function only(v: Record<string, unknown>, allowed: readonly string[], path: string): void {
  for (const k of Object.keys(v)) if (!allowed.includes(k)) throw new InAppDefinitionError(`${path}.${k}`, 'is not allowed here');
}

function text(v: unknown, path: string, max: number = inAppLimits.textLength, min = 0): string {
  if (typeof v !== 'string' || v.length < min || v.length > max) throw new InAppDefinitionError(path, `must be a string of ${min} to ${max} characters`);
  return v;
}

function optionalBoolean(v: unknown, path: string, fallback: boolean): boolean {
  if (v === undefined) return fallback;
  if (typeof v !== 'boolean') throw new InAppDefinitionError(path, 'must be true or false');
  return v;
}

function wholeNumber(v: unknown, path: string, min: number, max: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) throw new InAppDefinitionError(path, `must be a whole number from ${min} to ${max}`);
  return v;
}

function query(v: unknown, path: string): Query {
  try {
    return parseQuery(v, path);
  } catch (e) {
    if (e instanceof QueryError) throw new InAppDefinitionError(e.path, e.reason, 'query');
    throw e;
  }
}

/** An absolute URL of one of `schemes`; never javascript: or data:, which would run in the page. */
function url(v: unknown, path: string, schemes: readonly string[]): string {
  const s = text(v, path, inAppLimits.urlLength, 1);
  let scheme: string;
  try {
    scheme = new URL(s).protocol.slice(0, -1).toLowerCase();
  } catch {
    throw new InAppDefinitionError(path, 'must be an absolute URL');
  }
  const blocked = ['javascript', 'data', 'vbscript', 'file', 'blob'];
  if (blocked.includes(scheme) || (schemes.length && !schemes.includes(scheme))) {
    throw new InAppDefinitionError(path, schemes.length ? `must be a URL with scheme ${schemes.join(' or ')}` : 'must not be a javascript:, data:, vbscript:, file: or blob: URL');
  }
  return s;
}

const isoDateTime = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/i;

function dateBound(v: unknown, path: string, local: boolean): DateBound {
  const m = typeof v === 'string' ? isoDateTime.exec(v) : null;
  const ms = m ? Date.parse(v as string) : NaN;
  if (!m || Number.isNaN(ms)) throw new InAppDefinitionError(path, 'must be an ISO-8601 date-time with its offset, such as 2026-12-20T09:00:00Z');
  if (!local) return { kind: 'instant', ms };
  const [year, month, day, hour, minute, second] = [1, 2, 3, 4, 5, 6].map((i) => Number(m[i] ?? 0)) as [number, number, number, number, number, number];
  if (hour > 23 || minute > 59 || second > 59) throw new InAppDefinitionError(path, 'must be a real wall time');
  return { kind: 'local', date: { year, month, day }, time: { hour, minute }, second };
}

function parseContent(v: unknown, format: InAppFormat, path: string): Record<string, unknown> {
  if (!isObject(v)) throw new InAppDefinitionError(path, 'must be an object such as {"title": "Hello", "body": "…"}');
  only(v, ['title', 'body', 'image_url', 'html', 'buttons', 'position'], path);
  const out: Record<string, unknown> = {};
  if (v.title !== undefined) out.title = text(v.title, `${path}.title`);
  if (v.body !== undefined) out.body = text(v.body, `${path}.body`);
  if (v.image_url !== undefined) out.image_url = url(v.image_url, `${path}.image_url`, ['https']);
  if (v.html !== undefined) {
    if (format !== 'html') throw new InAppDefinitionError(`${path}.html`, 'is for format html only');
    out.html = text(v.html, `${path}.html`, inAppLimits.htmlLength, 1);
  }
  if (v.position !== undefined) {
    if (format !== 'banner') throw new InAppDefinitionError(`${path}.position`, 'is for format banner only');
    if (v.position !== 'top' && v.position !== 'bottom') throw new InAppDefinitionError(`${path}.position`, 'must be "top" or "bottom"');
    out.position = v.position;
  }
  if (v.buttons !== undefined) {
    if (!Array.isArray(v.buttons) || v.buttons.length > inAppLimits.buttons) throw new InAppDefinitionError(`${path}.buttons`, `must be an array of at most ${inAppLimits.buttons} buttons`);
    const ids = new Set<string>();
    out.buttons = v.buttons.map((b, i) => {
      const at = `${path}.buttons[${i}]`;
      if (!isObject(b)) throw new InAppDefinitionError(at, 'must be an object such as {"id": "ok", "label": "OK", "action": "dismiss"}');
      only(b, ['id', 'label', 'action', 'url'], at);
      if (typeof b.id !== 'string' || !/^[A-Za-z0-9_-]{1,40}$/.test(b.id)) throw new InAppDefinitionError(`${at}.id`, 'must be an id of 1 to 40 characters [A-Za-z0-9_-]');
      if (ids.has(b.id)) throw new InAppDefinitionError(`${at}.id`, 'repeats the id of an earlier button');
      ids.add(b.id);
      const label = text(b.label, `${at}.label`, 200, 1);
      if (b.action === 'dismiss') {
        if (b.url !== undefined) throw new InAppDefinitionError(`${at}.url`, 'is for action url only');
        return { id: b.id, label, action: 'dismiss' };
      }
      if (b.action !== 'url') throw new InAppDefinitionError(`${at}.action`, 'must be "dismiss" or "url"');
      // An app's own scheme (myapp://…) is a deep link; only schemes that run code are refused.
      return { id: b.id, label, action: 'url', url: url(b.url, `${at}.url`, []) };
    });
  }
  if (format === 'html' && out.html === undefined) throw new InAppDefinitionError(`${path}.html`, 'is required for format html');
  if (format === 'image' && out.image_url === undefined) throw new InAppDefinitionError(`${path}.image_url`, 'is required for format image');
  if (format !== 'html' && format !== 'image' && out.title === undefined && out.body === undefined) {
    throw new InAppDefinitionError(path, 'needs a title or a body');
  }
  return out;
}

function parseTrigger(v: unknown, path: string): InAppTrigger {
  if (!isObject(v)) throw new InAppDefinitionError(path, 'must be an object such as {"type": "session_start"} or {"type": "event", "event": "purchase"}');
  if (v.type === 'session_start' || v.type === 'asap') {
    only(v, ['type'], path);
    return { type: v.type };
  }
  if (v.type !== 'event') throw new InAppDefinitionError(`${path}.type`, 'must be "event", "session_start" or "asap"');
  only(v, ['type', 'event', 'where'], path);
  // The targeting language's event node without count or window: one event, its attributes filtered.
  const node = query({ event: v.event, ...(v.where !== undefined ? { where: v.where } : {}) }, path);
  if (node.kind !== 'event') throw new InAppDefinitionError(`${path}.event`, 'must be an event name');
  return { type: 'event', event: node.name, ...(v.where !== undefined ? { where: v.where as unknown[] } : {}) };
}

function parseCapping(v: unknown, path: string): InAppCapping | undefined {
  if (v === undefined || v === null) return undefined;
  if (!isObject(v)) throw new InAppDefinitionError(path, 'must be an object such as {"max_displays": 3, "min_interval_seconds": 86400}');
  only(v, ['max_displays', 'min_interval_seconds'], path);
  const c: InAppCapping = {};
  if (v.max_displays !== undefined) c.max_displays = wholeNumber(v.max_displays, `${path}.max_displays`, 1, inAppLimits.maxDisplays);
  if (v.min_interval_seconds !== undefined) c.min_interval_seconds = wholeNumber(v.min_interval_seconds, `${path}.min_interval_seconds`, 1, inAppLimits.minIntervalSeconds);
  return c.max_displays === undefined && c.min_interval_seconds === undefined ? undefined : c;
}

function templateError(errors: TemplateError[]): InAppDefinitionError {
  const first = errors[0]!;
  return new InAppDefinitionError(first.path, first.message, 'template');
}

const fields = ['name', 'format', 'content', 'trigger', 'audience', 'priority', 'starts_at', 'ends_at', 'local_dates', 'capping', 'labels', 'inbox', 'recheck'] as const;

/** The model of a definition; throws an InAppDefinitionError naming the first bad field. */
export function parseInAppDefinition(input: unknown, path = 'body'): InAppModel {
  if (!isObject(input)) throw new InAppDefinitionError(path, 'must be an object with name, format, content and trigger');
  only(input, fields, path);
  const name = text(input.name, `${path}.name`, inAppLimits.nameLength, 1);
  if (!inAppFormats.includes(input.format as InAppFormat)) throw new InAppDefinitionError(`${path}.format`, `must be one of ${inAppFormats.join(', ')}`);
  const format = input.format as InAppFormat;
  const content = parseContent(input.content, format, `${path}.content`);
  const trigger = parseTrigger(input.trigger, `${path}.trigger`);
  const audience = input.audience === undefined || input.audience === null ? null : query(input.audience, `${path}.audience`);
  const priority = input.priority === undefined ? defaultPriority : wholeNumber(input.priority, `${path}.priority`, 0, 100);
  const localDates = optionalBoolean(input.local_dates, `${path}.local_dates`, false);
  const startsAt = input.starts_at === undefined || input.starts_at === null ? null : dateBound(input.starts_at, `${path}.starts_at`, localDates);
  const endsAt = input.ends_at === undefined || input.ends_at === null ? null : dateBound(input.ends_at, `${path}.ends_at`, localDates);
  if (startsAt && endsAt && !(boundOrder(endsAt) > boundOrder(startsAt))) throw new InAppDefinitionError(`${path}.ends_at`, 'must be after starts_at');
  const capping = parseCapping(input.capping, `${path}.capping`);
  let labels: string[] = [];
  if (input.labels !== undefined) {
    if (!Array.isArray(input.labels) || input.labels.length > inAppLimits.labels) throw new InAppDefinitionError(`${path}.labels`, `must be an array of at most ${inAppLimits.labels} labels`);
    labels = [...new Set(input.labels.map((l, i) => text(l, `${path}.labels[${i}]`, inAppLimits.labelLength, 1)))];
  }
  const inbox = optionalBoolean(input.inbox, `${path}.inbox`, false);
  const recheck = optionalBoolean(input.recheck, `${path}.recheck`, true);
  // The html document's outputs are HTML-escaped, as email HTML's are; every other text is plain.
  const compiled = compileContent(content, `${path}.content`, (p) => (p === `${path}.content.html` ? 'html' : 'text'));
  if (!compiled.ok) throw templateError(compiled.errors);
  const definition: InAppDefinition = {
    name, format, content, trigger,
    ...(input.audience !== undefined && input.audience !== null ? { audience: input.audience } : {}),
    priority,
    ...(startsAt ? { starts_at: input.starts_at as string } : {}),
    ...(endsAt ? { ends_at: input.ends_at as string } : {}),
    local_dates: localDates,
    ...(capping ? { capping } : {}),
    labels, inbox, recheck,
  };
  return { definition, audience, content: compiled.compiled, startsAt, endsAt };
}

/** A comparable number for two bounds of one definition (both instants or both wall times). */
function boundOrder(b: DateBound): number {
  return b.kind === 'instant' ? b.ms : Date.UTC(b.date.year, b.date.month - 1, b.date.day, b.time.hour, b.time.minute, b.second);
}

/** The event names an audience looks at: the check loads only those of the profile's events. */
export function audienceEventNames(query: Query | null): string[] {
  const names = new Set<string>();
  const walk = (q: Query): void => {
    if (q.kind === 'event') names.add(q.name);
    else if (q.kind === 'all' || q.kind === 'any') q.of.forEach(walk);
    else if (q.kind === 'not') walk(q.of);
  };
  if (query) walk(query);
  return [...names].sort();
}

/** Whether an audience looks at the profile's devices and its custom audiences: the check reads them only then. */
export function audienceNeeds(query: Query | null): { installations: boolean; audiences: boolean } {
  const needs = { installations: false, audiences: false };
  const walk = (q: Query): void => {
    if (q.kind === 'installation') needs.installations = true;
    else if (q.kind === 'audience') needs.audiences = true;
    else if (q.kind === 'all' || q.kind === 'any') q.of.forEach(walk);
    else if (q.kind === 'not') walk(q.of);
  };
  if (query) walk(query);
  return needs;
}
