/**
 * A trigger automation's definition: its grammar and the parser that turns untrusted JSON into the
 * model the automation loop runs, naming the path of the first bad node
 * (`definition.steps[2].then`). Conditions (the audience, a branch, the trigger's and exit events'
 * filters) are the targeting language (targeting/query.ts), parsed by its own parser; content is a
 * campaign's (campaigns/content.ts), its Liquid compiled here so a template that would fail at
 * send time is refused at creation. The stored JSON stays what the caller sent; it is parsed again
 * where it is used, like a campaign's.
 *
 *   { "trigger": { "type": "event", "event": "cart_abandoned", "where": [{ "attribute": "total", "gte": 20 }] },
 *     "entry": { "reentry": true, "grace_period_seconds": 86400, "max_entries": 3 },
 *     "exit_on": [{ "event": "purchase" }],
 *     "steps": [
 *       { "id": "wait", "type": "wait", "duration": { "hours": 4 } },
 *       { "id": "nudge", "type": "send", "channels": ["push", "email"], "content": { ... } },
 *       { "id": "vip", "type": "branch", "condition": { "attribute": "tier", "eq": "gold" }, "then": "coupon", "else": null },
 *       { "id": "coupon", "type": "send", "channels": ["email"], "content": { ... } } ] }
 *
 * A step's `next` is the step that follows it (absent: the next one in the list; null: the journey
 * completes). Steps may only point forward in the list, so a journey always ends.
 */
import type { ContentPart } from '../channels.js';
import { compileCampaignContent, type CompiledCampaignContent, type ContentInput } from '../campaigns/content.js';
import { parseTime, type LocalTime } from '../campaigns/local-time.js';
import { parseSdkChanges, InputError, type AttributeChanges } from '../profile-operations.js';
import { parseQuery, QueryError, type Query } from '../targeting/query.js';
import { compileContent, type CompiledNode, type TemplateError } from '../personalization/template.js';

/** A bad definition: `path` names the node; the message never echoes a value. */
export class DefinitionError extends Error {
  constructor(readonly path: string, readonly reason: string, readonly kind: 'definition' | 'query' | 'template' = 'definition') {
    super(`${path} ${reason}`);
  }
}

export const automationLimits = {
  steps: 100,
  exitEvents: 10,
  /** A wait of ten years at most: longer is a mistake, not a journey. */
  waitSeconds: 10 * 366 * 86_400,
  gracePeriodSeconds: 10 * 366 * 86_400,
  maxEntries: 1_000_000,
  splitPaths: 10,
  /** A webhook step's tries: the first and up to seven more (webhookRetrySchedule). */
  webhookTries: 8,
  /** A webhook step's JSON body, serialized, before rendering. */
  webhookBodyBytes: 65_536,
  /** A journey's longest life (max_duration). */
  journeySeconds: 10 * 366 * 86_400,
} as const;

/**
 * The name under which a profile's change is kept for segment triggers (migration 0032's trigger):
 * event names are [a-z0-9_], so it is never an event's.
 */
export const profileChangeName = '$profile';

/**
 * The delays before a webhook step's second, third... try: shorter than webhook endpoints'
 * day-long schedule (domain/webhooks/schedule.ts), since a journey waits on the answer.
 */
export const webhookRetrySchedule: readonly number[] = [10_000, 60_000, 300_000, 1_800_000, 3_600_000, 7_200_000, 14_400_000];

export interface EntryRules {
  /** A profile may enter again once its journey has ended. */
  reentry: boolean;
  /** Seconds after the previous journey ended before a re-entry (0: at once). */
  gracePeriodSeconds: number;
  /** Entries per profile over the automation's life (null: no limit beyond `reentry`). */
  maxEntries: number | null;
}

export type Trigger =
  | { type: 'api' }
  | { type: 'event'; event: string; filter: Query }
  /** A profile enters when it starts matching `query` (a saved segment, or an inline query). */
  | { type: 'segment'; query: Query };

export type WaitStep =
  | { kind: 'duration'; ms: number }
  /** The next time the profile's wall clock reads `time` on one of `days` (0 = Monday); the zone is the profile's, else the project's. */
  | { kind: 'local_time'; time: LocalTime; days: number[] };

export type Step =
  | { id: string; type: 'send'; channels: ContentPart[]; content: CompiledCampaignContent; next: string | null }
  | { id: string; type: 'wait'; wait: WaitStep; next: string | null }
  | { id: string; type: 'wait_for_event'; event: string; filter: Query; timeoutMs: number; next: string | null; timeoutNext: string | null }
  | { id: string; type: 'branch'; condition: Query; then: string | null; else: string | null }
  | { id: string; type: 'split'; paths: { percent: number; next: string | null }[] }
  | { id: string; type: 'update_profile'; changes: AttributeChanges; next: string | null }
  | {
      id: string; type: 'webhook';
      /** The project's webhook endpoint whose secret signs the call, and whose URL it goes to unless `url` is given. */
      endpointId: string; url: string | null;
      /** The JSON body, its strings Liquid templates rendered with the profile and the trigger. */
      body: CompiledNode;
      maxTries: number;
      /** After the last failed try: go on to `next`, or end the journey (webhook_failed). */
      onFailure: 'continue' | 'exit';
      next: string | null;
    }
  | { id: string; type: 'exit' };

export interface AutomationModel {
  trigger: Trigger;
  /** Who may be in a journey (null: every profile): checked at entry and, with `recheckAfterWait`, after each wait. */
  audience: Query | null;
  recheckAfterWait: boolean;
  entry: EntryRules;
  /** Entries are taken from `from` until `until` (epoch ms; null: no bound): the automation's lifetime. */
  active: { from: number | null; until: number | null };
  /** A journey still running this long after it entered exits (max_duration); null: no limit. */
  maxDurationMs: number | null;
  /** Events that end a journey at once, whatever step it is in (an event query: name and filter). */
  exitOn: Query[];
  steps: Map<string, Step>;
  /** The first step's id. */
  first: string;
}

const stepTypes = ['send', 'wait', 'wait_for_event', 'branch', 'split', 'update_profile', 'webhook', 'exit'] as const;
const stepIdPattern = /^[A-Za-z0-9_-]{1,40}$/;
const parts: readonly ContentPart[] = ['push', 'email', 'sms'];
export const weekdays = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'] as const;

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function only(v: Record<string, unknown>, allowed: readonly string[], path: string): void {
  for (const k of Object.keys(v)) if (!allowed.includes(k)) throw new DefinitionError(`${path}.${k}`, 'is not allowed here');
}

/** A targeting query at `path`, its errors as the definition's. */
function query(v: unknown, path: string): Query {
  try {
    return parseQuery(v, path);
  } catch (e) {
    if (e instanceof QueryError) throw new DefinitionError(e.path, e.reason, 'query');
    throw e;
  }
}

/** `{ "event": name, "where"?: [...] }`: an event and a filter on its attributes, as the targeting language's event node. */
function eventFilter(v: unknown, path: string): { event: string; filter: Query } {
  if (!isObject(v)) throw new DefinitionError(path, 'must be an object such as {"event": "purchase", "where": [{"attribute": "total", "gte": 10}]}');
  only(v, ['event', 'where'], path);
  // The targeting language's event node, with neither count nor window: one event, its attributes filtered.
  const filter = query({ event: v.event, ...(v.where !== undefined ? { where: v.where } : {}) }, path);
  return { event: filter.kind === 'event' ? filter.name : '', filter };
}

/** `{ days?, hours?, minutes?, seconds? }` → milliseconds, at least a second. */
export function parseDuration(v: unknown, path: string, maxSeconds = automationLimits.waitSeconds): number {
  if (!isObject(v)) throw new DefinitionError(path, 'must be an object such as {"days": 30} or {"hours": 4, "minutes": 30}');
  only(v, ['days', 'hours', 'minutes', 'seconds'], path);
  const unit = { days: 86_400, hours: 3_600, minutes: 60, seconds: 1 } as const;
  let seconds = 0;
  for (const [k, per] of Object.entries(unit)) {
    const n = v[k];
    if (n === undefined) continue;
    if (typeof n !== 'number' || !Number.isInteger(n) || n < 0) throw new DefinitionError(`${path}.${k}`, 'must be a whole number, 0 or more');
    seconds += n * per;
  }
  if (seconds < 1 || seconds > maxSeconds) throw new DefinitionError(path, `must last from 1 second to ${maxSeconds} seconds`);
  return seconds * 1000;
}

function optionalBoolean(v: unknown, path: string, fallback: boolean): boolean {
  if (v === undefined) return fallback;
  if (typeof v !== 'boolean') throw new DefinitionError(path, 'must be true or false');
  return v;
}

function wholeNumber(v: unknown, path: string, min: number, max: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) throw new DefinitionError(path, `must be a whole number from ${min} to ${max}`);
  return v;
}

function templateError(errors: TemplateError[]): DefinitionError {
  const first = errors[0]!;
  return new DefinitionError(first.path, first.message, 'template');
}

/** The model of a definition; throws a DefinitionError naming the first bad node. */
export function parseDefinition(input: unknown, path = 'definition'): AutomationModel {
  if (!isObject(input)) throw new DefinitionError(path, 'must be an object with trigger and steps');
  only(input, ['trigger', 'audience', 'recheck_after_wait', 'entry', 'active', 'max_duration', 'exit_on', 'steps'], path);
  const trigger = parseTrigger(input.trigger, `${path}.trigger`);
  const audience = input.audience === undefined ? null : query(input.audience, `${path}.audience`);
  const recheckAfterWait = optionalBoolean(input.recheck_after_wait, `${path}.recheck_after_wait`, true);
  const entry = parseEntry(input.entry, `${path}.entry`);
  const active = parseActive(input.active, `${path}.active`);
  const maxDurationMs = input.max_duration === undefined ? null : parseDuration(input.max_duration, `${path}.max_duration`, automationLimits.journeySeconds);
  const exitOn: Query[] = [];
  if (input.exit_on !== undefined) {
    if (!Array.isArray(input.exit_on) || input.exit_on.length > automationLimits.exitEvents) throw new DefinitionError(`${path}.exit_on`, `must be an array of at most ${automationLimits.exitEvents} events`);
    input.exit_on.forEach((e, i) => exitOn.push(eventFilter(e, `${path}.exit_on[${i}]`).filter));
  }
  const steps = parseSteps(input.steps, `${path}.steps`);
  return { trigger, audience, recheckAfterWait, entry, active, maxDurationMs, exitOn, steps: new Map(steps.map((s) => [s.id, s])), first: steps[0]!.id };
}

/** `{ "from"?: ISO-8601, "until"?: ISO-8601 }`: when entries are taken. */
function parseActive(v: unknown, path: string): AutomationModel['active'] {
  if (v === undefined) return { from: null, until: null };
  if (!isObject(v)) throw new DefinitionError(path, 'must be an object such as {"from": "2027-01-01T00:00:00Z", "until": "2027-02-01T00:00:00Z"}');
  only(v, ['from', 'until'], path);
  const instant = (x: unknown, at: string): number | null => {
    if (x === undefined || x === null) return null;
    // With its offset (Z or ±hh:mm): an instant without one would be read in the server's zone.
    const ms = typeof x === 'string' && /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/.test(x) ? Date.parse(x) : NaN;
    if (!Number.isFinite(ms)) throw new DefinitionError(at, 'must be an ISO-8601 instant such as 2027-01-01T00:00:00Z');
    return ms;
  };
  const from = instant(v.from, `${path}.from`);
  const until = instant(v.until, `${path}.until`);
  if (from !== null && until !== null && until <= from) throw new DefinitionError(`${path}.until`, 'must be after from');
  return { from, until };
}

function parseTrigger(v: unknown, path: string): Trigger {
  if (!isObject(v)) throw new DefinitionError(path, 'must be an object such as {"type": "event", "event": "purchase"} or {"type": "api"}');
  if (v.type === 'api') {
    only(v, ['type'], path);
    return { type: 'api' };
  }
  if (v.type === 'segment') {
    only(v, ['type', 'segment', 'query'], path);
    if ((v.segment === undefined) === (v.query === undefined)) throw new DefinitionError(path, 'must have one of segment (a saved segment\'s id) or query');
    return { type: 'segment', query: v.segment !== undefined ? query({ segment: v.segment }, `${path}.segment`) : query(v.query, `${path}.query`) };
  }
  if (v.type !== 'event') throw new DefinitionError(`${path}.type`, 'must be "event", "segment" or "api"');
  const { type: _type, ...rest } = v;
  const f = eventFilter(rest, path);
  return { type: 'event', event: f.event, filter: f.filter };
}

function parseEntry(v: unknown, path: string): EntryRules {
  if (v === undefined) return { reentry: false, gracePeriodSeconds: 0, maxEntries: null };
  if (!isObject(v)) throw new DefinitionError(path, 'must be an object such as {"reentry": true, "grace_period_seconds": 86400, "max_entries": 3}');
  only(v, ['reentry', 'grace_period_seconds', 'max_entries'], path);
  const reentry = optionalBoolean(v.reentry, `${path}.reentry`, false);
  const grace = v.grace_period_seconds === undefined ? 0 : wholeNumber(v.grace_period_seconds, `${path}.grace_period_seconds`, 0, automationLimits.gracePeriodSeconds);
  const max = v.max_entries === undefined || v.max_entries === null ? null : wholeNumber(v.max_entries, `${path}.max_entries`, 1, automationLimits.maxEntries);
  if (!reentry && (grace > 0 || (max !== null && max > 1))) throw new DefinitionError(`${path}.reentry`, 'must be true for a grace period or more than one entry');
  return { reentry, gracePeriodSeconds: grace, maxEntries: max };
}

function parseSteps(v: unknown, path: string): Step[] {
  if (!Array.isArray(v) || v.length === 0 || v.length > automationLimits.steps) throw new DefinitionError(path, `must be an array of 1 to ${automationLimits.steps} steps`);
  const ids = new Map<string, number>();
  v.forEach((s, i) => {
    const at = `${path}[${i}]`;
    if (!isObject(s)) throw new DefinitionError(at, 'must be an object with id and type');
    if (typeof s.id !== 'string' || !stepIdPattern.test(s.id)) throw new DefinitionError(`${at}.id`, 'must be an id of 1 to 40 characters [A-Za-z0-9_-]');
    if (ids.has(s.id)) throw new DefinitionError(`${at}.id`, `repeats the id of steps[${ids.get(s.id)}]`);
    ids.set(s.id, i);
  });
  const following = (i: number) => (i + 1 < v.length ? (v[i + 1] as { id: string }).id : null);
  /** A pointer to a later step (null: the journey completes); absent: the step after `i`. */
  const target = (x: unknown, at: string, i: number, fallback: 'following' | 'required' = 'following'): string | null => {
    if (x === undefined) {
      if (fallback === 'required') throw new DefinitionError(at, 'is required: a step id, or null to complete the journey');
      return following(i);
    }
    if (x === null) return null;
    if (typeof x !== 'string' || !ids.has(x)) throw new DefinitionError(at, 'must name a step of this automation, or be null');
    if (ids.get(x)! <= i) throw new DefinitionError(at, 'must name a later step: a journey only moves forward');
    return x;
  };
  return v.map((raw, i) => parseStep(raw as Record<string, unknown>, `${path}[${i}]`, i, target));
}

function parseStep(s: Record<string, unknown>, at: string, i: number, target: (x: unknown, at: string, i: number, fallback?: 'following' | 'required') => string | null): Step {
  const id = s.id as string;
  const type = s.type;
  if (typeof type !== 'string' || !(stepTypes as readonly string[]).includes(type)) throw new DefinitionError(`${at}.type`, `must be one of ${stepTypes.join(', ')}`);
  switch (type as (typeof stepTypes)[number]) {
    case 'send': {
      only(s, ['id', 'type', 'channels', 'content', 'next'], at);
      const channels = s.channels;
      if (!Array.isArray(channels) || channels.length === 0 || channels.length > parts.length || new Set(channels).size !== channels.length
          || !channels.every((c) => (parts as readonly unknown[]).includes(c))) {
        throw new DefinitionError(`${at}.channels`, `must list distinct channels among ${parts.join(', ')}, in priority order`);
      }
      if (!isObject(s.content)) throw new DefinitionError(`${at}.content`, 'must be an object with each channel\'s content');
      for (const c of channels as ContentPart[]) if (s.content[c] === undefined) throw new DefinitionError(`${at}.content.${c}`, `is missing: channel ${c} is in channels`);
      const compiled = compileCampaignContent(s.content as ContentInput, `${at}.content`);
      if (!compiled.ok) throw templateError(compiled.errors);
      return { id, type: 'send', channels: channels as ContentPart[], content: compiled.compiled, next: target(s.next, `${at}.next`, i) };
    }
    case 'wait': {
      only(s, ['id', 'type', 'duration', 'until', 'next'], at);
      if ((s.duration === undefined) === (s.until === undefined)) throw new DefinitionError(at, 'must have one of duration or until');
      const wait: WaitStep = s.duration !== undefined
        ? { kind: 'duration', ms: parseDuration(s.duration, `${at}.duration`) }
        : parseLocalWait(s.until, `${at}.until`);
      return { id, type: 'wait', wait, next: target(s.next, `${at}.next`, i) };
    }
    case 'wait_for_event': {
      only(s, ['id', 'type', 'event', 'where', 'timeout', 'next', 'timeout_next'], at);
      const f = eventFilter({ event: s.event, ...(s.where !== undefined ? { where: s.where } : {}) }, at);
      return {
        id, type: 'wait_for_event', event: f.event, filter: f.filter, timeoutMs: parseDuration(s.timeout, `${at}.timeout`),
        next: target(s.next, `${at}.next`, i), timeoutNext: target(s.timeout_next, `${at}.timeout_next`, i),
      };
    }
    case 'branch':
      only(s, ['id', 'type', 'condition', 'then', 'else'], at);
      return {
        id, type: 'branch', condition: query(s.condition, `${at}.condition`),
        then: target(s.then, `${at}.then`, i, 'required'), else: target(s.else, `${at}.else`, i, 'required'),
      };
    case 'split': {
      only(s, ['id', 'type', 'paths'], at);
      if (!Array.isArray(s.paths) || s.paths.length < 2 || s.paths.length > automationLimits.splitPaths) throw new DefinitionError(`${at}.paths`, `must be an array of 2 to ${automationLimits.splitPaths} paths`);
      const paths = s.paths.map((p, k) => {
        const pat = `${at}.paths[${k}]`;
        if (!isObject(p)) throw new DefinitionError(pat, 'must be an object such as {"percent": 50, "next": "a"}');
        only(p, ['percent', 'next'], pat);
        return { percent: wholeNumber(p.percent, `${pat}.percent`, 1, 99), next: target(p.next, `${pat}.next`, i, 'required') };
      });
      if (paths.reduce((n, p) => n + p.percent, 0) !== 100) throw new DefinitionError(`${at}.paths`, 'must have percents adding up to 100');
      return { id, type: 'split', paths };
    }
    case 'update_profile': {
      only(s, ['id', 'type', 'set', 'unset', 'add', 'remove', 'next'], at);
      let changes: AttributeChanges;
      try {
        changes = parseSdkChanges({
          set: s.set as Record<string, unknown> | undefined, unset: s.unset as string[] | undefined,
          add: s.add as Record<string, unknown> | undefined, remove: s.remove as Record<string, unknown> | undefined,
        });
      } catch (e) {
        if (e instanceof InputError) throw new DefinitionError(`${at}.${e.field}`, e.message.slice(e.field.length + 1));
        throw e;
      }
      if (!Object.keys(changes.set).length && !changes.unset.length && !Object.keys(changes.add).length && !Object.keys(changes.remove).length) {
        throw new DefinitionError(at, 'must change something: set, unset, add or remove');
      }
      return { id, type: 'update_profile', changes, next: target(s.next, `${at}.next`, i) };
    }
    case 'webhook':
      return parseWebhook(s, at, target(s.next, `${at}.next`, i));
    case 'exit':
      only(s, ['id', 'type'], at);
      return { id, type: 'exit' };
  }
}

const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

function parseWebhook(s: Record<string, unknown>, at: string, next: string | null): Step {
  only(s, ['id', 'type', 'endpoint_id', 'url', 'body', 'max_tries', 'on_failure', 'next'], at);
  if (typeof s.endpoint_id !== 'string' || !uuidPattern.test(s.endpoint_id)) {
    throw new DefinitionError(`${at}.endpoint_id`, 'must be the id of one of the project\'s webhook endpoints (its secret signs the call)');
  }
  let url: string | null = null;
  if (s.url !== undefined) {
    let u: URL | undefined;
    try {
      u = typeof s.url === 'string' && s.url.length <= 2048 ? new URL(s.url) : undefined;
    } catch {
      u = undefined;
    }
    if (!u || (u.protocol !== 'https:' && u.protocol !== 'http:')) throw new DefinitionError(`${at}.url`, 'must be an absolute https (or http) URL of at most 2048 characters');
    if (u.username || u.password) throw new DefinitionError(`${at}.url`, 'must not carry credentials: the receiver verifies the signature instead');
    url = u.toString();
  }
  if (!isObject(s.body)) throw new DefinitionError(`${at}.body`, 'must be a JSON object');
  if (JSON.stringify(s.body).length > automationLimits.webhookBodyBytes) throw new DefinitionError(`${at}.body`, `must be at most ${automationLimits.webhookBodyBytes} characters as JSON`);
  const compiled = compileContent(s.body, `${at}.body`);
  if (!compiled.ok) throw templateError(compiled.errors);
  const maxTries = s.max_tries === undefined ? 5 : wholeNumber(s.max_tries, `${at}.max_tries`, 1, automationLimits.webhookTries);
  if (s.on_failure !== undefined && s.on_failure !== 'continue' && s.on_failure !== 'exit') throw new DefinitionError(`${at}.on_failure`, 'must be "continue" or "exit"');
  return {
    id: s.id as string, type: 'webhook', endpointId: s.endpoint_id, url, body: compiled.compiled, maxTries,
    onFailure: s.on_failure === 'exit' ? 'exit' : 'continue', next,
  };
}

function parseLocalWait(v: unknown, path: string): WaitStep {
  if (!isObject(v)) throw new DefinitionError(path, 'must be an object such as {"time": "09:00", "days": ["mon", "tue"]}');
  only(v, ['time', 'days'], path);
  const time = parseTime(v.time);
  if (!time) throw new DefinitionError(`${path}.time`, 'must be a local time HH:MM');
  let days = [0, 1, 2, 3, 4, 5, 6];
  if (v.days !== undefined) {
    if (!Array.isArray(v.days) || v.days.length === 0 || new Set(v.days).size !== v.days.length
        || !v.days.every((d) => (weekdays as readonly unknown[]).includes(d))) {
      throw new DefinitionError(`${path}.days`, `must list distinct days among ${weekdays.join(', ')}`);
    }
    days = (v.days as string[]).map((d) => weekdays.indexOf(d as (typeof weekdays)[number])).sort();
  }
  return { kind: 'local_time', time, days };
}

/** Every event name the model listens to: its trigger, its exit events and its wait-for steps. */
export function eventNamesOf(m: AutomationModel): string[] {
  const names = new Set<string>();
  if (m.trigger.type === 'event') names.add(m.trigger.event);
  if (m.trigger.type === 'segment') for (const n of [profileChangeName, ...queryEventNames(m.trigger.query)]) names.add(n);
  for (const q of m.exitOn) if (q.kind === 'event') names.add(q.name);
  for (const s of m.steps.values()) if (s.type === 'wait_for_event') names.add(s.event);
  return [...names];
}

/** The content parts of every send step: each is checked by its channel at creation, like a send's. */
export function sendSteps(m: AutomationModel): Extract<Step, { type: 'send' }>[] {
  return [...m.steps.values()].filter((s): s is Extract<Step, { type: 'send' }> => s.type === 'send');
}

/** The event names a query looks at (saved segments as they are: expand them first to see theirs). */
export function queryEventNames(q: Query): string[] {
  const names = new Set<string>();
  const walk = (x: Query): void => {
    if (x.kind === 'event') names.add(x.name);
    else if (x.kind === 'all' || x.kind === 'any') x.of.forEach(walk);
    else if (x.kind === 'not') walk(x.of);
  };
  walk(q);
  return [...names];
}

/** The webhook steps: each names an endpoint the API checks exists. */
export function webhookSteps(m: AutomationModel): Extract<Step, { type: 'webhook' }>[] {
  return [...m.steps.values()].filter((s): s is Extract<Step, { type: 'webhook' }> => s.type === 'webhook');
}
