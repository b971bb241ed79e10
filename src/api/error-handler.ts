/**
 * Turns anything a route throws into the stable error body. Bad input is a 4xx naming the field;
 * a database outage is a 503 with Retry-After (never a 2xx we could not keep); anything else is a
 * bug, logged and answered 500 without internals.
 */
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { isDatabaseDown, isDatabaseFailure } from '../store/database-errors.js';
import { ApiError, errorBody, type ErrorCode } from './errors.js';
import { maxParamBytes } from './http-limits.js';

interface AjvIssue {
  keyword: string;
  instancePath: string;
  params: Record<string, unknown>;
  message?: string;
}

function fieldName(path: string, extra?: unknown): string {
  const parts = path.split('/').filter(Boolean);
  if (typeof extra === 'string') parts.push(extra);
  return parts.length ? parts.join('.') : 'body';
}

function fromValidation(issue: AjvIssue, context: string): ApiError {
  const where = context === 'body' ? '' : context + '.';
  switch (issue.keyword) {
    case 'required':
      return new ApiError('missing_field', `${where}${fieldName(issue.instancePath, issue.params.missingProperty)} is required`);
    case 'additionalProperties':
      return new ApiError('unknown_field', `${where}${fieldName(issue.instancePath, issue.params.additionalProperty)} is not a known field`);
    case 'maxItems':
      if (issue.instancePath.startsWith('/recipients')) {
        return new ApiError('too_many_recipients', `${fieldName(issue.instancePath)} has more than ${issue.params.limit} entries`);
      }
      return new ApiError('invalid_field', `${where}${fieldName(issue.instancePath)} ${issue.message ?? 'is invalid'}`);
    default:
      return new ApiError('invalid_field', `${where}${fieldName(issue.instancePath)} ${issue.message ?? 'is invalid'}`);
  }
}

/**
 * The client's request stream was cut before its end (the client stopped, or a socket deadline
 * closed it). Its errors (ECONNRESET "aborted") share codes with a lost database connection, so
 * the stream itself is asked, before the codes are.
 */
function requestCutShort(req: FastifyRequest | undefined): boolean {
  const raw = req?.raw;
  return raw !== undefined && !raw.complete && (raw.readableAborted || raw.destroyed || raw.socket?.destroyed === true);
}

export function toApiError(
  err: FastifyError & { validation?: AjvIssue[]; validationContext?: string },
  req?: FastifyRequest,
): ApiError | undefined {
  if (err instanceof ApiError) return err;
  if (requestCutShort(req)) return new ApiError('request_incomplete', 'the request body ended before it was complete; nothing was stored');
  if (err.validation?.length) return fromValidation(err.validation[0]!, err.validationContext ?? 'body');
  const byCode: Partial<Record<string, [ErrorCode, string]>> = {
    FST_ERR_CTP_INVALID_JSON_BODY: ['invalid_json', 'the body is not valid JSON'],
    FST_ERR_CTP_EMPTY_JSON_BODY: ['invalid_json', 'the body is empty; send a JSON object'],
    FST_ERR_CTP_BODY_TOO_LARGE: ['body_too_large', 'the body exceeds 1 MiB'],
    FST_ERR_CTP_INVALID_MEDIA_TYPE: ['unsupported_media_type', 'send the body as application/json'],
    FST_ERR_CTP_INVALID_CONTENT_LENGTH: ['invalid_json', 'the Content-Length does not match the body'],
    FST_ERR_BAD_URL: ['invalid_path', 'the path is not valid percent-encoded UTF-8'],
    FST_ERR_MAX_PARAM_LENGTH: ['path_too_long', `a path segment is longer than ${maxParamBytes} bytes`],
  };
  const known = byCode[err.code];
  if (known) return new ApiError(known[0], known[1]);
  if (err instanceof SyntaxError && err.statusCode === 400) return new ApiError('invalid_json', 'the body is not valid JSON');
  if (isDatabaseDown(err)) {
    return new ApiError('database_unavailable', 'the database is unreachable; nothing was stored', { 'retry-after': '2' });
  }
  // The database is up but cannot take the request now (disk full 53100, out of memory, a
  // statement timeout, a deadlock): the transaction rolled back, so nothing was stored and a
  // retry can succeed. SQLSTATEs: https://www.postgresql.org/docs/current/errcodes-appendix.html
  if (isDatabaseFailure(err)) {
    const full = (err as { code?: string }).code === '53100';
    return new ApiError('database_unavailable', full ? 'the database has no space left on its disk; nothing was stored'
      : 'the database could not complete the request; nothing was stored', { 'retry-after': '5' });
  }
  return undefined;
}

export function errorHandler(err: FastifyError, req: FastifyRequest, reply: FastifyReply): void {
  const api = toApiError(err, req);
  if (api) {
    if (api.code === 'request_incomplete') req.log.info({ code: api.code }, api.message);
    else if (api.status >= 500) req.log.warn({ code: api.code }, api.message);
    // The rest of an unread body is never read: the connection cannot carry another request.
    if (!req.raw.complete) void reply.header('connection', 'close');
    void reply.code(api.status).headers(api.headers).send(errorBody(api.code, api.message));
    return;
  }
  req.log.error({ err }, 'unhandled error');
  void reply.code(500).send(errorBody('internal_error', 'internal error; nothing was acknowledged'));
}
