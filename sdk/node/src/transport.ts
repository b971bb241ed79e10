/**
 * One logical call: its attempts, each with its own timeout, within the call's deadline. A change
 * gets its Idempotency-Key once, before the first attempt, and every attempt sends the same key and
 * the same bytes, so the API recognises a retry as the call it already has (the request hash it
 * compares covers the body: src/store/idempotency.ts).
 */
import { randomUUID } from 'node:crypto';
import { HeraldError, HeraldTimeoutError } from './errors.js';
import { networkFailure, nextDelayMs, retryAfterMs, shouldRetry, type Failure, type RetryOptions } from './retry.js';
import { changes, safeToRepeat } from './safety.js';

export interface TransportOptions {
  url: string;
  apiKey: string;
  timeoutMs: number;
  attemptTimeoutMs: number;
  retries: RetryOptions;
  userAgent: string;
  onRetry?: ((info: RetryInfo) => void) | undefined;
}

/** Told before each wait for a retry: what failed, and how long the SDK waits. */
export interface RetryInfo {
  method: string;
  path: string;
  /** The attempt that failed (1 for the first). */
  attempt: number;
  delayMs: number;
  error: HeraldError;
  idempotencyKey: string | undefined;
}

export interface CallOptions {
  /** Your own key for this change (1 to 255 characters): reuse it to make a later call the same one. */
  idempotencyKey?: string;
  /** This call's deadline, instead of the client's. */
  timeoutMs?: number;
  signal?: AbortSignal;
  /**
   * Whether this call may be sent again when an attempt's outcome is unknown. The SDK knows it for
   * Herald's routes (safety.ts); say it here for a call it cannot judge.
   */
  repeatable?: boolean;
}

export interface CallSpec extends CallOptions {
  method: string;
  /** The route's path template, such as /v1/messages/{id}. */
  template: string;
  params?: Record<string, string | number> | undefined;
  query?: Record<string, string | number | boolean | undefined> | undefined;
  body?: unknown;
}

export interface Answer<T = unknown> {
  status: number;
  body: T;
  headers: Headers;
  attempts: number;
  /** The API answered a stored first answer (Idempotent-Replayed: true). */
  replayed: boolean;
  idempotencyKey: string | undefined;
}

export function resolvePath(template: string, params: Record<string, string | number> = {}): string {
  return template.replace(/\{([^}]+)\}/g, (_, name: string) => {
    const v = params[name];
    if (v === undefined) throw new TypeError(`path parameter ${name} of ${template} is missing`);
    return encodeURIComponent(String(v));
  });
}

const sleep = (ms: number, signal: AbortSignal | undefined) => new Promise<void>((resolve, reject) => {
  if (signal?.aborted) return reject(signal.reason);
  const t = setTimeout(() => { signal?.removeEventListener('abort', onAbort); resolve(); }, ms);
  const onAbort = () => { clearTimeout(t); reject(signal!.reason); };
  signal?.addEventListener('abort', onAbort, { once: true });
});

/** The code of a fetch failure: undici puts the socket's error in `cause`. */
function errorCode(err: unknown): string {
  const cause = (err as { cause?: { code?: unknown; cause?: { code?: unknown } } }).cause;
  const code = cause?.code ?? cause?.cause?.code ?? (err as { code?: unknown }).code;
  return typeof code === 'string' ? code : 'UNKNOWN';
}

export async function call<T>(o: TransportOptions, spec: CallSpec): Promise<Answer<T>> {
  const method = spec.method.toUpperCase();
  const path = resolvePath(spec.template, spec.params);
  const search = new URLSearchParams();
  for (const [k, v] of Object.entries(spec.query ?? {})) if (v !== undefined) search.set(k, String(v));
  const target = new URL(path + (search.size ? `?${search}` : ''), o.url.endsWith('/') ? o.url : o.url + '/');
  const key = changes(method) ? (spec.idempotencyKey ?? randomUUID()) : undefined;
  const repeatable = spec.repeatable ?? safeToRepeat(method, spec.template, spec.body);
  const timeoutMs = spec.timeoutMs ?? o.timeoutMs;
  const deadline = Date.now() + timeoutMs;
  const headers: Record<string, string> = { authorization: `Bearer ${o.apiKey}`, accept: 'application/json', 'user-agent': o.userAgent };
  if (key !== undefined) headers['idempotency-key'] = key;
  // Serialised once: every attempt sends the same bytes.
  const payload = spec.body === undefined ? undefined : JSON.stringify(spec.body);
  if (payload !== undefined) headers['content-type'] = 'application/json';
  const base = { method, path, idempotencyKey: key };

  let last: HeraldError | undefined;
  for (let attempt = 1; ; attempt++) {
    const remaining = deadline - Date.now();
    if (remaining <= 0) throw timeoutError(base, attempt - 1, timeoutMs, last);
    const attemptMs = Math.min(o.attemptTimeoutMs, remaining);
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), attemptMs);
    const onAbort = () => controller.abort();
    spec.signal?.addEventListener('abort', onAbort, { once: true });
    let failure: Failure;
    let error: HeraldError;
    let retryAfter: number | undefined;
    try {
      const res = await fetch(target, { method, headers, body: payload, signal: controller.signal });
      const text = await res.text();
      const body = parse(text);
      const requestId = res.headers.get('request-id') ?? res.headers.get('x-request-id') ?? undefined;
      if (res.ok) {
        return { status: res.status, body: body as T, headers: res.headers, attempts: attempt,
          replayed: res.headers.get('idempotent-replayed') === 'true', idempotencyKey: key };
      }
      const apiError = (body as { error?: { code?: unknown; message?: unknown } } | undefined)?.error;
      const code = typeof apiError?.code === 'string' ? apiError.code : undefined;
      failure = { kind: 'status', status: res.status, code };
      retryAfter = retryAfterMs(res.headers.get('retry-after'), Date.now());
      error = new HeraldError({
        ...base, status: res.status, code: code ?? `http_${res.status}`, requestId, attempts: attempt,
        message: typeof apiError?.message === 'string' ? apiError.message : `${method} ${path} answered ${res.status}`,
        retryable: shouldRetry(failure, repeatable),
      });
    } catch (err) {
      if (spec.signal?.aborted) throw spec.signal.reason;
      const timedOut = controller.signal.aborted;
      // The attempt's timer was the call's deadline: the call is over.
      if (timedOut && attemptMs === remaining) {
        throw timeoutError(base, attempt, timeoutMs, new HeraldError({
          ...base, status: undefined, code: 'network_error', attempts: attempt, retryable: true, cause: err,
          message: `${method} ${path}: no answer before the deadline`,
        }));
      }
      failure = timedOut ? { kind: 'attempt_timeout' } : networkFailure(errorCode(err));
      const what = timedOut ? `no answer within ${attemptMs} ms` : `${errorCode(err)} (${(err as Error).message})`;
      const unknown = failure.kind === 'attempt_timeout' || (failure.kind === 'network' && failure.sent);
      error = new HeraldError({
        ...base, status: undefined, code: 'network_error', attempts: attempt, cause: err,
        retryable: shouldRetry(failure, repeatable),
        message: `${method} ${path}: ${what}` + (unknown && !repeatable
          ? '; it may or may not have been applied, and it is not retried because repeating it is not safe' : ''),
      });
    } finally {
      clearTimeout(timer);
      spec.signal?.removeEventListener('abort', onAbort);
    }
    last = error;
    if (!shouldRetry(failure, repeatable)) throw error;
    if (attempt > o.retries.max) throw error;
    const delayMs = nextDelayMs(attempt - 1, o.retries, Math.random(), retryAfter);
    // No attempt could start before the deadline: say so now rather than wait for it.
    if (delayMs >= deadline - Date.now()) throw timeoutError(base, attempt, timeoutMs, last);
    o.onRetry?.({ method, path, attempt, delayMs, error, idempotencyKey: key });
    await sleep(delayMs, spec.signal);
  }
}

function timeoutError(base: { method: string; path: string; idempotencyKey: string | undefined }, attempts: number, timeoutMs: number, last: HeraldError | undefined) {
  return new HeraldTimeoutError({
    ...base, attempts, timeoutMs, lastError: last, cause: last,
    message: `${base.method} ${base.path} did not succeed within its ${timeoutMs} ms deadline after ${attempts} attempt${attempts === 1 ? '' : 's'}` +
      (last ? ` (last: ${last.code}: ${last.message})` : '') +
      (base.idempotencyKey ? `; call again with idempotencyKey ${base.idempotencyKey} to settle whether it was applied` : ''),
  });
}

function parse(text: string): unknown {
  if (text === '') return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}
