/**
 * One webhook request: a POST of the signed JSON body to the endpoint's URL, through the outbound
 * guard (outbound-guard.ts: a URL naming or resolving to a private address is refused before any
 * packet leaves, unless private networks are allowed), given up after `timeoutMs`. Redirects are
 * not followed (a 3xx is a failure, as Standard Webhooks receivers answer 2xx). The answer's body
 * is read and dropped, up to a few kilobytes kept for the delivery log's error.
 */
import http from 'node:http';
import https from 'node:https';
import type { OutboundGuard } from '../outbound-guard.js';

export interface WebhookAnswer {
  /** The HTTP status, or undefined when no answer came (refused, timed out, reset). */
  status?: number | undefined;
  retryAfter?: string | undefined;
  /** What went wrong, for the delivery log: the network error, or the start of a non-2xx answer's body. */
  error?: string | undefined;
}

const keptBodyBytes = 512;
// Keep-alive per origin: an endpoint receiving a burst reuses its connections. A reused socket was
// checked by the guard when it was opened.
const agents = { 'http:': new http.Agent({ keepAlive: true, maxSockets: 64 }), 'https:': new https.Agent({ keepAlive: true, maxSockets: 64 }) };

export function postWebhook(guard: OutboundGuard, url: string, headers: Record<string, string>, body: string, timeoutMs: number): Promise<WebhookAnswer> {
  return new Promise((resolve) => {
    let target: URL;
    try {
      target = new URL(url);
      if (target.protocol !== 'http:' && target.protocol !== 'https:') throw new Error(`unsupported scheme ${target.protocol}`);
    } catch (err) {
      return resolve({ error: `bad URL: ${(err as Error).message}` });
    }
    const port = Number(target.port) || (target.protocol === 'https:' ? 443 : 80);
    try {
      guard.check(target.hostname, port);
    } catch (err) {
      return resolve({ error: (err as Error).message });
    }
    const client = target.protocol === 'https:' ? https : http;
    let settled = false;
    const done = (a: WebhookAnswer) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(a);
    };
    const req = client.request(target, {
      method: 'POST',
      agent: agents[target.protocol],
      lookup: guard.lookupFor(port),
      headers: { ...headers, 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)), 'user-agent': 'Herald-Webhooks/1' },
    }, (res) => {
      const chunks: Buffer[] = [];
      let kept = 0;
      res.on('data', (c: Buffer) => {
        if (kept < keptBodyBytes) chunks.push(c);
        kept += c.length;
      });
      res.on('end', () => {
        const status = res.statusCode ?? 0;
        // PostgreSQL text cannot hold U+0000.
        const text = Buffer.concat(chunks).toString('utf8').slice(0, keptBodyBytes).replace(/\u0000/g, '');
        const retryAfter = res.headers['retry-after'];
        done({ status, retryAfter, error: status >= 200 && status < 300 ? undefined : `HTTP ${status}${text ? `: ${text}` : ''}` });
      });
      res.on('error', (err) => done({ status: res.statusCode, error: err.message }));
    });
    // A wall-clock deadline for the whole exchange: the other side keeps this time, not Herald's clock.
    const timer = setTimeout(() => {
      done({ error: `no answer within ${timeoutMs} ms` });
      req.destroy();
    }, timeoutMs);
    req.on('error', (err) => done({ error: `${(err as NodeJS.ErrnoException).code ?? err.name}: ${err.message}` }));
    req.end(body);
  });
}

/** Closes idle keep-alive connections (a stopping worker). */
export function closeWebhookConnections(): void {
  for (const a of Object.values(agents)) a.destroy();
}
