/**
 * What a failed call throws. Every failure is a HeraldError (or its subclass HeraldTimeoutError),
 * so `catch (e) { if (e instanceof HeraldError) ... }` sees them all; an aborted call rethrows the
 * caller's own abort reason instead.
 */
export interface HeraldErrorDetails {
  /** The HTTP status of the last answer; undefined when no answer arrived (a network failure). */
  status: number | undefined;
  /** The API's stable `error.code` (docs/api-errors.md), or `network_error`, `timeout`, `http_<status>` for an answer that is not Herald's. */
  code: string;
  message: string;
  /** The request id the answer carried (`request-id` or `x-request-id`), if any. */
  requestId?: string | undefined;
  /** Whether the SDK retries this kind of failure: true when it gave up only because its retries or its deadline ran out. */
  retryable: boolean;
  /** Attempts made, the last one included. */
  attempts: number;
  method: string;
  path: string;
  /** The key every attempt carried (changes only). */
  idempotencyKey?: string | undefined;
  cause?: unknown;
}

export class HeraldError extends Error {
  readonly status: number | undefined;
  readonly code: string;
  readonly requestId: string | undefined;
  readonly retryable: boolean;
  readonly attempts: number;
  readonly method: string;
  readonly path: string;
  readonly idempotencyKey: string | undefined;

  constructor(d: HeraldErrorDetails) {
    super(d.message, d.cause === undefined ? undefined : { cause: d.cause });
    this.name = 'HeraldError';
    this.status = d.status;
    this.code = d.code;
    this.requestId = d.requestId;
    this.retryable = d.retryable;
    this.attempts = d.attempts;
    this.method = d.method;
    this.path = d.path;
    this.idempotencyKey = d.idempotencyKey;
  }
}

/**
 * The call's deadline (`timeoutMs`) passed before it succeeded. A change may or may not have been
 * applied by an attempt still in flight: calling again with the same `idempotencyKey` settles it
 * (the API replays the first answer, or applies it once).
 */
export class HeraldTimeoutError extends HeraldError {
  readonly timeoutMs: number;
  /** Why the last attempt failed, when one did. */
  readonly lastError: HeraldError | undefined;

  constructor(d: Omit<HeraldErrorDetails, 'code' | 'status' | 'retryable'> & { timeoutMs: number; lastError?: HeraldError | undefined }) {
    super({ ...d, code: 'timeout', status: d.lastError?.status, retryable: true, requestId: d.requestId ?? d.lastError?.requestId });
    this.name = 'HeraldTimeoutError';
    this.timeoutMs = d.timeoutMs;
    this.lastError = d.lastError;
  }
}
