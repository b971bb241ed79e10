/**
 * One check for every route, before its schema: any path parameter, query string value or JSON
 * body value (keys included) that PostgreSQL could not store as given (domain/storable.ts) is a 400
 * `invalid_field` naming the field, before any route code or statement runs. Form bodies parsed to
 * URLSearchParams (the SMS webhooks) are checked field by field. A streamed body (the NDJSON bulk
 * import) is not parsed here; its lines are checked where they are read.
 */
import type { FastifyRequest } from 'fastify';
import { findUnstorable } from '../domain/storable.js';
import { ApiError } from './errors.js';

const maxFieldChars = 300;
const parts = [['params', 'params'], ['query', 'querystring'], ['body', 'body']] as const;

/** A form as a plain object of its fields' values, so that it is checked like a JSON body. */
const fieldsOf = (v: unknown): unknown => {
  if (!(v instanceof URLSearchParams)) return v;
  const fields: Record<string, string[]> = Object.create(null);
  for (const [k, value] of v) (fields[k] ??= []).push(value);
  return fields;
};

export async function refuseUnstorableInput(req: FastifyRequest): Promise<void> {
  for (const [part, name] of parts) {
    const bad = findUnstorable(fieldsOf(req[part]));
    if (!bad) continue;
    // Body fields are named as in the body (push.data.k); the others after their part, as the validator does.
    const field = name === 'body' ? bad.field || 'body' : bad.field ? `${name}.${bad.field}` : name;
    // A path through long keys is shortened: the message names the field, it does not echo the body.
    throw new ApiError('invalid_field', `${field.length > maxFieldChars ? field.slice(0, maxFieldChars) + '…' : field} ${bad.problem}`);
  }
}
