/**
 * A webhook receiver for tests: a node:http server on 127.0.0.1 that records every request
 * (headers and raw body) and answers as the test's `answer` says for the n-th request (from 1):
 * a status with headers, or 'hang' (no answer until the server closes).
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ReceivedWebhook {
  headers: Record<string, string>;
  body: string;
  at: number;
}

export type Answer = { status: number; headers?: Record<string, string> } | 'hang';

export interface WebhookReceiver {
  url: string;
  requests: ReceivedWebhook[];
  /** Changes how the following requests are answered. */
  answer: (n: number) => Answer;
  close(): Promise<void>;
}

export async function webhookReceiver(answer: (n: number) => Answer = () => ({ status: 204 })): Promise<WebhookReceiver> {
  const r: WebhookReceiver = { url: '', requests: [], answer, close: async () => {} };
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      r.requests.push({ headers: req.headers as Record<string, string>, body: Buffer.concat(chunks).toString('utf8'), at: Date.now() });
      const a = r.answer(r.requests.length);
      if (a === 'hang') return;
      res.writeHead(a.status, a.headers).end(a.status >= 300 ? 'not today' : '');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  r.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
  r.close = () => new Promise<void>((resolve) => {
    server.closeAllConnections();
    server.close(() => resolve());
  });
  return r;
}
