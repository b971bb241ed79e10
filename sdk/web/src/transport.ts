/** One POST to Herald's SDK endpoints, and what the answer means for the outbox entries it carried. */
import { retryAfterMs } from './backoff.js';

export type SendResult =
  /** Stored (or already stored: Herald deduplicates by id). Delete the entries. */
  | { kind: 'acknowledged' }
  /** Not stored this time (network error, 408, 429, 5xx): send again later. */
  | { kind: 'retry'; afterMs?: number | undefined }
  /** Refused for good (any other 4xx): sending again would be refused again. */
  | { kind: 'rejected'; status: number; code?: string | undefined }
  /** The SDK key is unknown or revoked (401/403): a setup problem, not the entries' fault. */
  | { kind: 'unauthorized'; status: number };

export interface Endpoint {
  endpoint: string;
  sdkKey: string;
}

/** One JSON POST to Herald with the SDK key; rejects only when no answer came. */
export function request(to: Endpoint, path: string, body: unknown): Promise<Response> {
  return fetch(to.endpoint.replace(/\/+$/, '') + path, {
    method: 'POST',
    headers: { authorization: `Bearer ${to.sdkKey}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
    mode: 'cors',
    credentials: 'omit',
    cache: 'no-store',
  });
}

export async function post(to: Endpoint, path: string, body: unknown): Promise<SendResult> {
  let res: Response;
  try {
    res = await request(to, path, body);
  } catch {
    // fetch rejects only when no answer came: offline, refused, reset, CORS failure.
    return { kind: 'retry' };
  }
  if (res.ok) return { kind: 'acknowledged' };
  const code = await errorCode(res);
  const status = res.status;
  if (status === 408 || status === 429 || status >= 500) {
    const afterMs = retryAfterMs(res.headers.get('retry-after'));
    return { kind: 'retry', afterMs };
  }
  // Herald's identity refusals are the entry's own (no or a wrong identity token), final like any 4xx.
  if ((status === 401 || status === 403) && code !== 'identity_required' && code !== 'invalid_identity_token') {
    return { kind: 'unauthorized', status };
  }
  return { kind: 'rejected', status, code };
}

async function errorCode(res: Response): Promise<string | undefined> {
  try {
    const body = (await res.json()) as { error?: { code?: unknown } };
    return typeof body.error?.code === 'string' ? body.error.code : undefined;
  } catch {
    return undefined; // not Herald's JSON error (a proxy's page, say): the status says enough
  }
}
