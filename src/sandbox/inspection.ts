/**
 * The sandbox's inspection API, plain HTTP: what the simulators received, the credentials and
 * certificate they accept, and fault rules (docs/sandbox.md, followed to the letter). Built apart from listening, like the main API.
 */
import Fastify, { type FastifyInstance, type FastifyReply } from 'fastify';
import {
  channels, defaultListLimit, isChannel, maxListLimit, type Channel, type DeliveryRecords, type ListQuery,
} from './records.js';
import { InvalidFault, type Faults } from './faults.js';
import { parseInboundRequest, type InboundMessage, type InboundResult } from './sms-inbound.js';

export interface InspectionDeps {
  records: DeliveryRecords;
  faults: Faults;
  /** One key per running simulator, its base URL; a channel not built yet is absent. */
  endpoints: Partial<Record<Channel, string>>;
  credentials: Record<string, unknown>;
  caPem: string;
  /** Posts a signed inbound-SMS webhook (the SMS simulator's sendInbound); absent without it. */
  smsInbound?: ((m: InboundMessage) => Promise<InboundResult>) | undefined;
  /** The SMS account of one Herald project (the SMS simulator's accountFor); absent without it. */
  smsAccountFor?: ((projectId: string) => { account_sid: string; auth_token: string }) | undefined;
}

/** Every `error.code` this API answers, with its status. */
const errorStatus = {
  /** A request the framework refused before any route ran (e.g. a body over 1 MiB: 413); status varies. */
  invalid_request: 400,
  invalid_query: 400,
  invalid_fault: 400,
  invalid_inbound: 400,
  webhook_unreachable: 502,
  not_found: 404,
  fault_not_found: 404,
  internal_error: 500,
} as const;
type ErrorCode = keyof typeof errorStatus;

class InspectionError extends Error {
  constructor(readonly code: ErrorCode, message: string) {
    super(message);
  }
}

const sendError = (reply: FastifyReply, code: ErrorCode, message: string) =>
  reply.code(errorStatus[code]).type('application/json').send({ error: { code, message } });

export function buildInspectionApp(d: InspectionDeps): FastifyInstance {
  const app = Fastify({ logger: false });

  // Bodies are parsed by the routes, whatever their content-type: `curl -d '{…}'` sends
  // application/x-www-form-urlencoded, and a bad body is an invalid_fault, not a framework error.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'string' }, (_req, body, done) => done(null, body));

  app.setErrorHandler((err: Error & { statusCode?: number }, _req, reply) => {
    if (err instanceof InspectionError) return sendError(reply, err.code, err.message);
    if (err instanceof InvalidFault) return sendError(reply, 'invalid_fault', err.message);
    const status = err.statusCode ?? 500;
    if (status >= 500) return sendError(reply, 'internal_error', err.message);
    return reply.code(status).type('application/json').send({ error: { code: 'invalid_request', message: err.message } });
  });
  app.setNotFoundHandler((req, reply) => sendError(reply, 'not_found', `no route ${req.method} ${req.url.split('?')[0]}`));

  app.get('/_sandbox/endpoints', async () => d.endpoints);
  app.get('/_sandbox/credentials', async () => d.credentials);
  const smsAccountFor = d.smsAccountFor;
  // One project's own account: its token signs that project's webhooks and no other's.
  if (smsAccountFor) app.get<{ Params: { project: string } }>('/_sandbox/credentials/sms/:project', async (req) => smsAccountFor(req.params.project));
  app.get('/_sandbox/ca.pem', async (_req, reply) => reply.type('text/plain; charset=utf-8').send(d.caPem));

  app.get('/_sandbox/deliveries', async (req) => d.records.list(parseListQuery(req.query)));
  app.delete('/_sandbox/deliveries', async (req, reply) => {
    const q = queryOf(req.query, ['channel']);
    d.records.clear(q.channel === undefined ? undefined : channelOf(q.channel));
    return reply.code(204).send();
  });

  app.post('/_sandbox/faults', async (req, reply) => {
    let input: unknown;
    try {
      input = JSON.parse(typeof req.body === 'string' ? req.body : '');
    } catch {
      throw new InvalidFault('the body must be a JSON object: {"channel": "apns", …}');
    }
    const rule = d.faults.add(input);
    return reply.code(201).send({ id: rule.id });
  });
  app.get('/_sandbox/faults', async () => d.faults.list());

  const smsInbound = d.smsInbound;
  if (smsInbound) {
    app.post('/_sandbox/sms/inbound', async (req) => {
      const m = parseInboundRequest(req.body);
      if (typeof m === 'string') throw new InspectionError('invalid_inbound', m);
      try {
        return await smsInbound(m);
      } catch (err) {
        throw new InspectionError('webhook_unreachable', `no answer from ${m.url}: ${(err as Error).message}`);
      }
    });
  }
  app.delete('/_sandbox/faults', async (_req, reply) => {
    d.faults.clear();
    return reply.code(204).send();
  });
  app.delete<{ Params: { id: string } }>('/_sandbox/faults/:id', async (req, reply) => {
    if (!d.faults.remove(req.params.id)) throw new InspectionError('fault_not_found', `no fault rule ${req.params.id}`);
    return reply.code(204).send();
  });

  return app;
}

/** The query string as single values, refusing names the route does not define and repeated names. */
function queryOf(query: unknown, allowed: readonly string[]): Record<string, string | undefined> {
  const out: Record<string, string | undefined> = {};
  for (const [k, v] of Object.entries((query ?? {}) as Record<string, unknown>)) {
    if (!allowed.includes(k)) throw new InspectionError('invalid_query', `unknown query parameter "${k}"; this route takes ${allowed.join(', ')}`);
    if (typeof v !== 'string') throw new InspectionError('invalid_query', `${k} is given more than once`);
    out[k] = v;
  }
  return out;
}

function channelOf(value: string): Channel {
  if (!isChannel(value)) throw new InspectionError('invalid_query', `channel must be one of ${channels.join(', ')}`);
  return value;
}

/** GET /_sandbox/deliveries: channel (required), target, since (exclusive), limit, include=rejected. */
export function parseListQuery(query: unknown): ListQuery {
  const q = queryOf(query, ['channel', 'target', 'since', 'limit', 'include']);
  if (q.channel === undefined) throw new InspectionError('invalid_query', `channel is required: one of ${channels.join(', ')}`);
  const channel = channelOf(q.channel);
  let sinceMs: number | undefined;
  if (q.since !== undefined) {
    sinceMs = Date.parse(q.since);
    if (Number.isNaN(sinceMs)) throw new InspectionError('invalid_query', 'since must be an ISO 8601 time, e.g. 2026-01-01T12:00:00.123Z');
  }
  let limit = defaultListLimit;
  if (q.limit !== undefined) {
    limit = /^\d{1,6}$/.test(q.limit) ? Number(q.limit) : 0;
    if (limit < 1 || limit > maxListLimit) throw new InspectionError('invalid_query', `limit must be an integer from 1 to ${maxListLimit}`);
  }
  if (q.include !== undefined && q.include !== 'rejected') throw new InspectionError('invalid_query', 'include takes one value: rejected');
  return { channel, target: q.target, sinceMs, limit, includeRejected: q.include === 'rejected' };
}
