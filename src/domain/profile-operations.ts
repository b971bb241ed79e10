/**
 * Profile operations, after the seed platform's profile API (https://doc.batch.com/developer/api/cep/profiles/update
 * and https://doc.batch.com/developer/sdk/cordova/profile-data/attributes): what a valid operation is, and what it does to a profile. Pure: batches of
 * operations are folded in memory (profile-state.ts); single changes are applied in SQL with the
 * same semantics (herald_apply_attributes, migration 0005), and tests hold the two equal.
 *
 * An operation:
 *   { "identifiers": { "custom_id": "u1" },
 *     "attributes": { "plan": "pro", "age": 31, "vip": true, "date(birthdate)": "1990-04-01",
 *                     "url(site)": "https://example.com", "tags": ["a", "b"], "hobbies": { "$add": ["chess"] },
 *                     "old_field": null, "$email": "A@Example.com", "$email_subscription": "subscribed" },
 *     "events": [ { "id": "client-id", "name": "purchase", "time": "2024-05-01T10:00:00Z", "attributes": { ... } } ] }
 */

import { isStorableText, jsonHasUnstorableText } from './storable.js';

/** Every limit in one place; docs/profiles.md lists them. */
export const limits = {
  /** Operations per POST /v1/profiles/update (the seed platform's OpenAPI says 200). */
  operationsPerCall: 200,
  /** Lines per POST /v1/profiles/bulk. */
  bulkLines: 1_000_000,
  /** Bytes per NDJSON line: one operation with its events fits easily. */
  bulkLineBytes: 65_536,
  /**
   * Bytes per POST /v1/profiles/bulk: 1,000,000 lines of 268 bytes on average (an operation with a
   * few attributes and an event), uploaded within the API's 10-minute request deadline at 0.45 MB/s.
   * Bigger imports are split across calls.
   */
  bulkBytes: 256 * 1024 * 1024,
  customIdLength: 512,
  /** Attribute and event names: [a-z0-9_], as the seed platform. */
  nameLength: 30,
  attributesPerOperation: 50,
  /** The seed platform stops at 64; a full name or an address line needs more. */
  stringLength: 300,
  urlLength: 2048,
  arrayItems: 25,
  eventsPerOperation: 50,
  /** An event's attributes, serialised (they may nest objects and arrays). */
  eventAttributesBytes: 8192,
  /** Client-generated ids of events and attribute changes. */
  clientIdLength: 64,
  /** Events per POST /v1/sdk/events or /v1/sdk/push-events. */
  sdkEventsPerBatch: 100,
  /** An event may be dated at most this far ahead, for clients whose clock runs fast. */
  eventFutureMs: 24 * 3600 * 1000,
} as const;

/** Events before this are refused: a zeroed or unset device clock, not a real date. */
export const earliestEventTime = Date.parse('2000-01-01T00:00:00Z');

export type StoredValue = string | number | boolean | string[] | { $date: string } | { $url: string };
export type AttributeDocument = Record<string, StoredValue>;

export interface AttributeChanges {
  set: Record<string, StoredValue>;
  unset: string[];
  add: Record<string, string[]>;
  remove: Record<string, string[]>;
}

export const nativeFields = {
  $email: 'email',
  $phone: 'phone',
  $language: 'language',
  $region: 'region',
  $timezone: 'timezone',
  $email_subscription: 'email_subscription',
  $sms_subscription: 'sms_subscription',
} as const;
export type NativeColumn = (typeof nativeFields)[keyof typeof nativeFields];

export interface EventInput {
  /** The client's id: a second event with the same id in the dedupe window is not stored. */
  clientId: string | null;
  name: string;
  /** ISO-8601, normalised to UTC. */
  time: string;
  attributes: Record<string, unknown>;
}

export interface ProfileOperation {
  customId: string;
  /** Columns to set; null clears one. */
  native: Partial<Record<NativeColumn, string | null>>;
  attributes: AttributeChanges;
  events: EventInput[];
}

export type InputErrorCode = 'invalid_field' | 'missing_field' | 'unknown_field' | 'too_many_operations' | 'too_many_events';

/** Bad input, naming the field (a path such as `[3].attributes.age`); never carries the value. */
export class InputError extends Error {
  constructor(readonly code: InputErrorCode, readonly field: string, message: string) {
    super(`${field} ${message}`);
  }
}

const namePattern = /^[a-z0-9_]{1,30}$/;
const typedKey = /^(date|url)\((.*)\)$/;
const isoDate = /^\d{4}-\d{2}-\d{2}$/;
const isoDateTime = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})$/;
const emailPattern = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
/** ITU-T E.164: a plus, then up to 15 digits, no leading zero. */
const e164 = /^\+[1-9]\d{1,14}$/;
const urlScheme = /^[a-zA-Z][a-zA-Z0-9+.-]*:/;

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const join = (path: string, key: string) => (path ? `${path}.${key}` : key);

/**
 * Text PostgreSQL cannot store (storable.ts) would fail the statement that stores it, and with it
 * every request sharing that commit (SDK events are group-committed), again at each of the
 * client's retries. It is refused up front, naming the field.
 */
export function checkStorable(text: string, field: string): string {
  if (!isStorableText(text)) throw new InputError('invalid_field', field, 'must not contain U+0000 or an unpaired surrogate');
  return text;
}

export function checkName(name: string, field: string, what = 'name'): void {
  if (!namePattern.test(name)) {
    throw new InputError('invalid_field', field, `must be a ${what} of 1 to ${limits.nameLength} characters from a-z, 0-9 and _`);
  }
}

export function checkClientId(id: unknown, field: string): string {
  if (typeof id !== 'string' || id.length < 1 || id.length > limits.clientIdLength) {
    throw new InputError('invalid_field', field, `must be a string of 1 to ${limits.clientIdLength} characters`);
  }
  return checkStorable(id, field);
}

export function checkCustomId(id: unknown, field: string): string {
  if (typeof id !== 'string' || id.length < 1 || id.length > limits.customIdLength) {
    throw new InputError('invalid_field', field, `must be a string of 1 to ${limits.customIdLength} characters`);
  }
  return checkStorable(id, field);
}

/** An ISO-8601 date-time with its offset, within the accepted range; returned in UTC. */
export function parseTime(v: unknown, field: string, now: Date): string {
  const ok = typeof v === 'string' && isoDateTime.test(v);
  const ms = ok ? Date.parse(v as string) : NaN;
  if (Number.isNaN(ms)) throw new InputError('invalid_field', field, 'must be an ISO-8601 date-time such as 2024-05-01T10:00:00Z');
  if (ms < earliestEventTime || ms > now.getTime() + limits.eventFutureMs) {
    throw new InputError('invalid_field', field, 'must be after 2000-01-01 and at most 24 hours ahead');
  }
  return new Date(ms).toISOString();
}

function stringValue(v: unknown, field: string, max: number = limits.stringLength): string {
  if (typeof v !== 'string' || v.length > max) throw new InputError('invalid_field', field, `must be a string of at most ${max} characters`);
  return checkStorable(v, field);
}

function stringList(v: unknown, field: string): string[] {
  if (!Array.isArray(v) || v.length > limits.arrayItems) {
    throw new InputError('invalid_field', field, `must be an array of at most ${limits.arrayItems} strings`);
  }
  const out: string[] = [];
  v.forEach((s, i) => {
    const item = stringValue(s, `${field}[${i}]`);
    if (!out.includes(item)) out.push(item);
  });
  return out;
}

function plainValue(v: unknown, field: string): StoredValue {
  if (typeof v === 'string') return stringValue(v, field);
  if (typeof v === 'number' && Number.isFinite(v)) return v;
  if (typeof v === 'boolean') return v;
  if (Array.isArray(v)) return stringList(v, field);
  throw new InputError('invalid_field', field, 'must be a string, number, boolean, array of strings, null, or {"$add"|"$remove": [strings]}');
}

function typedValue(type: string, v: unknown, field: string): StoredValue {
  if (type === 'date') {
    // Any real calendar date: birthdates and contract ends lie outside the event time window.
    const ms = typeof v === 'string' && (isoDate.test(v) || isoDateTime.test(v)) ? Date.parse(v) : NaN;
    if (Number.isNaN(ms)) throw new InputError('invalid_field', field, 'must be an ISO-8601 date such as 1990-04-01 or 2024-05-01T10:00:00Z');
    return { $date: new Date(ms).toISOString() };
  }
  const url = stringValue(v, field, limits.urlLength);
  let valid = urlScheme.test(url);
  try { new URL(url); } catch { valid = false; }
  if (!valid) throw new InputError('invalid_field', field, 'must be an absolute URL such as https://example.com/page');
  return { $url: url };
}

/** Collects custom attribute changes; `onNative` receives `$` keys (refused when absent). */
function attributeChanges(
  input: Record<string, unknown>,
  path: string,
  onNative?: (key: string, value: unknown, field: string) => void,
): AttributeChanges {
  const changes: AttributeChanges = { set: {}, unset: [], add: {}, remove: {} };
  const seen = new Set<string>();
  let count = 0;
  for (const [key, value] of Object.entries(input)) {
    const field = join(path, key);
    if (key.startsWith('$')) {
      if (!onNative || !(key in nativeFields)) throw new InputError('unknown_field', field, 'is not a known native field');
      onNative(key, value, field);
      continue;
    }
    if (++count > limits.attributesPerOperation) {
      throw new InputError('invalid_field', path || 'attributes', `has more than ${limits.attributesPerOperation} attributes`);
    }
    const typed = typedKey.exec(key);
    const name = typed ? typed[2]! : key;
    checkName(name, field, 'attribute name');
    // Assigned to a plain object, this name would set its prototype instead: the change would vanish.
    if (name === '__proto__') throw new InputError('invalid_field', field, 'names the attribute __proto__, which is reserved');
    if (seen.has(name)) throw new InputError('invalid_field', field, `names attribute ${name} a second time`);
    seen.add(name);
    if (value === null) {
      changes.unset.push(name);
    } else if (typed) {
      changes.set[name] = typedValue(typed[1]!, value, field);
    } else if (isObject(value)) {
      const ops = Object.keys(value);
      if (ops.length !== 1 || (ops[0] !== '$add' && ops[0] !== '$remove')) {
        throw new InputError('invalid_field', field, 'as an object must be exactly {"$add": [strings]} or {"$remove": [strings]}');
      }
      const list = stringList(value[ops[0]], join(field, ops[0]));
      if (list.length) (ops[0] === '$add' ? changes.add : changes.remove)[name] = list;
    } else {
      const v = plainValue(value, field);
      if (Array.isArray(v) && !v.length) changes.unset.push(name);
      else changes.set[name] = v;
    }
  }
  return changes;
}

/** The value of a native field, normalised (email lower-cased, region upper-cased); null clears it. */
export function nativeValue(key: keyof typeof nativeFields, value: unknown, field: string): string | null {
  if (value === null) return null;
  const s = typeof value === 'string' ? value.trim() : undefined;
  switch (key) {
    case '$email':
      if (!s || s.length > 254 || !emailPattern.test(s)) throw new InputError('invalid_field', field, 'must be an email address');
      return checkStorable(s, field).toLowerCase();
    case '$phone':
      if (!s || !e164.test(s)) throw new InputError('invalid_field', field, 'must be a phone number in E.164 form, such as +33612345678');
      return s;
    case '$language':
      if (!s || !/^[a-zA-Z]{2,3}$/.test(s)) throw new InputError('invalid_field', field, 'must be an ISO 639 language code such as fr');
      return s.toLowerCase();
    case '$region':
      if (!s || !/^[a-zA-Z]{2}$/.test(s)) throw new InputError('invalid_field', field, 'must be an ISO 3166 region code such as FR');
      return s.toUpperCase();
    case '$timezone':
      if (!s || s.length > 64 || !isTimeZone(s)) throw new InputError('invalid_field', field, 'must be an IANA time zone such as Europe/Paris');
      return s;
    case '$email_subscription':
    case '$sms_subscription':
      if (s !== 'subscribed' && s !== 'unsubscribed') throw new InputError('invalid_field', field, 'must be "subscribed" or "unsubscribed"');
      return s;
  }
}

function isTimeZone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat('en', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

/** One event; `id` optional on the REST API (no dedupe without it), required from the SDK. */
export function parseEvent(input: unknown, path: string, now: Date, opts: { idRequired: boolean; timeRequired: boolean }): EventInput {
  if (!isObject(input)) throw new InputError('invalid_field', path, 'must be an object');
  for (const key of Object.keys(input)) {
    if (!['id', 'name', 'time', 'attributes'].includes(key)) throw new InputError('unknown_field', join(path, key), 'is not a known field');
  }
  if (input.id === undefined && opts.idRequired) throw new InputError('missing_field', join(path, 'id'), 'is required');
  if (input.name === undefined) throw new InputError('missing_field', join(path, 'name'), 'is required');
  if (input.time === undefined && opts.timeRequired) throw new InputError('missing_field', join(path, 'time'), 'is required');
  if (typeof input.name !== 'string') throw new InputError('invalid_field', join(path, 'name'), 'must be a string');
  const name = input.name;
  checkName(name, join(path, 'name'), 'event name');
  const attributes = input.attributes ?? {};
  if (!isObject(attributes)) throw new InputError('invalid_field', join(path, 'attributes'), 'must be an object');
  const json = JSON.stringify(attributes);
  if (Buffer.byteLength(json) > limits.eventAttributesBytes) {
    throw new InputError('invalid_field', join(path, 'attributes'), `must be at most ${limits.eventAttributesBytes} bytes as JSON`);
  }
  if (jsonHasUnstorableText(json)) {
    throw new InputError('invalid_field', join(path, 'attributes'), 'must not contain U+0000 or an unpaired surrogate');
  }
  return {
    clientId: input.id === undefined ? null : checkClientId(input.id, join(path, 'id')),
    name,
    time: input.time === undefined ? now.toISOString() : parseTime(input.time, join(path, 'time'), now),
    attributes,
  };
}

/** One REST or bulk operation. */
export function parseOperation(input: unknown, path: string, now: Date): ProfileOperation {
  if (!isObject(input)) throw new InputError('invalid_field', path || 'body', 'must be an object');
  for (const key of Object.keys(input)) {
    if (!['identifiers', 'attributes', 'events'].includes(key)) throw new InputError('unknown_field', join(path, key), 'is not a known field');
  }
  const ids = input.identifiers;
  if (ids === undefined) throw new InputError('missing_field', join(path, 'identifiers'), 'is required');
  if (!isObject(ids)) throw new InputError('invalid_field', join(path, 'identifiers'), 'must be an object');
  for (const key of Object.keys(ids)) {
    if (key !== 'custom_id') throw new InputError('unknown_field', join(path, `identifiers.${key}`), 'is not a known field');
  }
  if (ids.custom_id === undefined) throw new InputError('missing_field', join(path, 'identifiers.custom_id'), 'is required');
  const customId = checkCustomId(ids.custom_id, join(path, 'identifiers.custom_id'));

  const native: ProfileOperation['native'] = {};
  const attrs = input.attributes ?? {};
  if (!isObject(attrs)) throw new InputError('invalid_field', join(path, 'attributes'), 'must be an object');
  const attributes = attributeChanges(attrs, join(path, 'attributes'), (key, value, field) => {
    native[nativeFields[key as keyof typeof nativeFields]] = nativeValue(key as keyof typeof nativeFields, value, field);
  });

  const evs = input.events ?? [];
  if (!Array.isArray(evs)) throw new InputError('invalid_field', join(path, 'events'), 'must be an array');
  if (evs.length > limits.eventsPerOperation) {
    throw new InputError('too_many_events', join(path, 'events'), `has ${evs.length} events; the limit is ${limits.eventsPerOperation}`);
  }
  const events = evs.map((e, i) => parseEvent(e, `${join(path, 'events')}[${i}]`, now, { idRequired: false, timeRequired: false }));
  return { customId, native, attributes, events };
}

/** The body of POST /v1/profiles/update: an array of 1 to 200 operations. */
export function parseOperations(input: unknown, now: Date): ProfileOperation[] {
  if (!Array.isArray(input)) throw new InputError('invalid_field', 'body', 'must be an array of operations');
  if (input.length === 0) throw new InputError('invalid_field', 'body', 'must hold at least one operation');
  if (input.length > limits.operationsPerCall) {
    throw new InputError('too_many_operations', 'body', `has ${input.length} operations; the limit is ${limits.operationsPerCall} per call (use /v1/profiles/bulk for more)`);
  }
  return input.map((op, i) => parseOperation(op, `[${i}]`, now));
}

/** The attribute part of POST /v1/sdk/attributes: set / unset / add / remove, custom attributes only. */
export function parseSdkChanges(
  input: { set?: Record<string, unknown> | undefined; unset?: string[] | undefined; add?: Record<string, unknown> | undefined; remove?: Record<string, unknown> | undefined },
): AttributeChanges {
  // No prototype: a key __proto__ stays a key, and is refused by name below rather than lost.
  const merged: Record<string, unknown> = Object.create(null);
  const fieldOf = new Map<string, string>();
  const put = (key: string, value: unknown, field: string) => {
    const name = typedKey.exec(key)?.[2] ?? key;
    if (fieldOf.has(name)) throw new InputError('invalid_field', field, `names attribute ${name} a second time (also in ${fieldOf.get(name)})`);
    fieldOf.set(name, field);
    merged[key] = value;
  };
  for (const [k, v] of Object.entries(input.set ?? {})) {
    if (v === null) throw new InputError('invalid_field', `set.${k}`, 'must not be null; list the name in unset instead');
    if (isObject(v)) throw new InputError('invalid_field', `set.${k}`, 'must be a string, number, boolean or array of strings');
    put(k, v, `set.${k}`);
  }
  (input.unset ?? []).forEach((k, i) => put(k, null, `unset[${i}]`));
  for (const [k, v] of Object.entries(input.add ?? {})) put(k, { $add: v }, `add.${k}`);
  for (const [k, v] of Object.entries(input.remove ?? {})) put(k, { $remove: v }, `remove.${k}`);
  try {
    return attributeChanges(merged, '');
  } catch (err) {
    // Point at the SDK body's own field (set.x, add.y...) rather than the merged document's.
    if (err instanceof InputError) {
      const name = err.field.split(/[.[]/)[0]!;
      const where = fieldOf.get(typedKey.exec(name)?.[2] ?? name) ?? err.field;
      throw new InputError(err.code, where, err.message.slice(err.field.length + 1));
    }
    throw err;
  }
}

/**
 * What an operation's attribute changes do to a document: unset, then set, then $add (values move
 * to the end, the newest `arrayItems` are kept; a non-array becomes an array) and $remove (arrays
 * only). An array left empty is removed. The SQL function herald_apply_attributes does the same.
 */
export function applyAttributeChanges(doc: AttributeDocument, c: AttributeChanges): AttributeDocument {
  const out: AttributeDocument = { ...doc };
  for (const name of c.unset) delete out[name];
  Object.assign(out, c.set);
  for (const [name, added] of Object.entries(c.add)) {
    const cur = out[name];
    const kept = (Array.isArray(cur) ? cur : []).filter((v) => !added.includes(v));
    const next = [...kept, ...added].slice(-limits.arrayItems);
    if (next.length) out[name] = next;
    else delete out[name];
  }
  for (const [name, removed] of Object.entries(c.remove)) {
    const cur = out[name];
    if (!Array.isArray(cur)) continue;
    const next = cur.filter((v) => !removed.includes(v));
    if (next.length) out[name] = next;
    else delete out[name];
  }
  return out;
}
