/**
 * Shared schema pieces. Each route's TypeBox schema validates its request, types its handler
 * (through @fastify/type-provider-typebox) and documents it in /openapi.json at once; its response
 * schemas also serialize the answer (fast-json-stringify), so every field a handler returns is
 * declared, and open maps say so (additionalProperties).
 */
import { Type, type Static, type TSchema } from '@sinclair/typebox';
import { errorCatalogue, type ErrorCode } from './errors.js';

export const ErrorBody = Type.Object(
  { error: Type.Object({ code: Type.String(), message: Type.String() }) },
  { $id: 'Error', description: 'Every 4xx/5xx answer. `code` is stable; see /docs for the list.' },
);

/**
 * A timestamp, answered in ISO 8601 (RFC 3339 `date-time`). Handlers return the driver's Date or
 * a string; both serialize to the same text.
 */
export const DateTime = Type.Unsafe<Date | string>({ type: 'string', format: 'date-time' });

export const Nullable = <T extends TSchema>(schema: T) => Type.Union([schema, Type.Null()]);

/** An object whose keys are the caller's (attributes, push data, a stored row): kept whole in answers. */
export const OpenObject = (description?: string) =>
  Type.Unsafe<Record<string, unknown>>({ type: 'object', additionalProperties: true, ...(description ? { description } : {}) });

/** A 204: no body (`reply.code(204).send()`); type null, so /openapi.json lists no content. */
export const NoContent = Type.Unsafe<void>({ type: 'null', description: 'No content.' });

/** An answer that is not JSON (a page, TwiML, Prometheus text): its media type, documented. */
export const textResponse = (contentType: string, description: string) => ({
  description,
  content: { [contentType]: { schema: { type: 'string' } } },
});

/** Codes every route can answer, whatever it does. */
const always: ErrorCode[] = ['internal_error', 'database_unavailable'];
/** Codes of any route that reads a JSON body, a query string or path parameters. */
export const inputErrors: ErrorCode[] = [
  'invalid_json', 'invalid_field', 'missing_field', 'unknown_field', 'unsupported_media_type', 'body_too_large', 'request_incomplete',
];
/** The refusals of a call made with a dashboard session instead of a key (api/operator-auth.ts). */
const sessionErrors: ErrorCode[] = ['csrf_token_invalid', 'role_forbidden', 'project_header_required'];
/** Codes of a route that takes the REST key (config.auth 'rest'), or a dashboard session. */
export const restKeyErrors: ErrorCode[] = ['unauthorized', 'forbidden_for_sdk_key', ...sessionErrors];
/** Codes of a route that takes the SDK key or the REST key (config.auth 'sdk'), or a dashboard session. */
export const sdkKeyErrors: ErrorCode[] = ['unauthorized', ...sessionErrors];
/** Codes of a route that takes a dashboard session only (config.auth 'operator'). */
export const operatorErrors: ErrorCode[] = ['unauthorized', 'csrf_token_invalid'];

/**
 * The 4xx/5xx answers of a route, from the catalogue (errors.ts): one entry per status the codes
 * have, each the Error shape, its description listing the codes with their meaning. Every route names its own codes;
 * internal_error and database_unavailable are added to all.
 */
type ErrorStatus = (typeof errorCatalogue)[ErrorCode]['status'];
/** The Error shape by reference (components.schemas in /openapi.json), typed for handlers that send one. */
const errorRef = (description: string, headers?: Record<string, unknown>) =>
  Type.Unsafe<Static<typeof ErrorBody>>({ $ref: 'Error#', description, ...(headers ? { headers } : {}) });
/** Statuses whose answers say when to retry (RFC 9110 §10.2.3). */
const retryAfter = { 'retry-after': { type: 'string', description: 'Seconds to wait before retrying.' } };
const retried = new Set<number>([429, 503]);

export function errorResponses(...codes: (ErrorCode | readonly ErrorCode[])[]): Partial<Record<ErrorStatus, ReturnType<typeof errorRef>>> {
  const byStatus = new Map<ErrorStatus, Set<ErrorCode>>();
  for (const code of [...codes.flat(), ...always]) {
    const status = errorCatalogue[code].status;
    if (!byStatus.has(status)) byStatus.set(status, new Set());
    byStatus.get(status)!.add(code);
  }
  const out: Partial<Record<ErrorStatus, ReturnType<typeof errorRef>>> = {};
  for (const [status, set] of [...byStatus].sort(([a], [b]) => a - b)) {
    out[status] = errorRef([...set].map((c) => `- \`${c}\`: ${errorCatalogue[c].meaning}`).join('\n'), retried.has(status) ? retryAfter : undefined);
  }
  return out;
}

export const Platform = Type.Union([Type.Literal('ios'), Type.Literal('android'), Type.Literal('web')]);

export { oneLine } from '../domain/email-message.js';

/** What an SDK-key call acting for a custom_id carries (api/identity-guard.ts, docs/profiles.md). */
export const IdentityToken = Type.String({
  minLength: 1, maxLength: 128,
  description: 'HMAC-SHA256 (hex) of the custom_id this call acts for, under the project\'s identity secret; made by your server. Not needed with the REST key.',
});
