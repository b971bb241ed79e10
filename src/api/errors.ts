/**
 * Every `error.code` the API can answer, with its HTTP status and meaning. One handler turns them
 * into `{"error": {"code", "message"}}`; docs/api-errors.md is generated from this table.
 */
export const errorCatalogue = {
  invalid_json: { status: 400, meaning: 'The body is not valid JSON.' },
  invalid_field: { status: 400, meaning: 'A field has the wrong type, format or value; the message names it.' },
  missing_field: { status: 400, meaning: 'A required field is absent; the message names it.' },
  unknown_field: { status: 400, meaning: 'The body has a field the endpoint does not define; the message names it.' },
  no_recipients: { status: 400, meaning: 'The send names no recipient.' },
  too_many_recipients: { status: 400, meaning: 'More than 10,000 recipients in one call (all lists together).' },
  push_payload_too_large: { status: 400, meaning: 'The push, once built, exceeds the 4096 bytes APNs accepts.' },
  reserved_data_key: { status: 400, meaning: 'push.data uses a key Herald reserves (aps, herald).' },
  invalid_idempotency_key: { status: 400, meaning: 'The Idempotency-Key header is empty or longer than 255 characters.' },
  unauthorized: { status: 401, meaning: 'No API key, or an unknown or revoked one.' },
  forbidden_for_sdk_key: { status: 403, meaning: 'A public SDK key called an endpoint that needs the secret REST key.' },
  not_found: { status: 404, meaning: 'No such route.' },
  message_not_found: { status: 404, meaning: 'No message with this id in this project.' },
  body_too_large: { status: 413, meaning: 'The request body exceeds 1 MiB.' },
  unsupported_media_type: { status: 415, meaning: 'The body must be application/json.' },
  idempotency_key_reused: { status: 422, meaning: 'This Idempotency-Key was used with a different request body.' },
  database_unavailable: { status: 503, meaning: 'PostgreSQL cannot be reached; nothing was stored. Retry after the Retry-After delay.' },
  internal_error: { status: 500, meaning: 'A bug in Herald; nothing was acknowledged. Please report it.' },
} as const satisfies Record<string, { status: number; meaning: string }>;

export type ErrorCode = keyof typeof errorCatalogue;

/** An error the API answers as-is. Throw it from a route; the error handler renders it. */
export class ApiError extends Error {
  readonly status: number;
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.status = errorCatalogue[code].status;
  }
}

export function errorBody(code: ErrorCode, message: string) {
  return { error: { code, message } };
}
