/**
 * The Herald client: typed methods for the main operations, and `request` for any route of the
 * API, all through one transport (transport.ts) that retries safely within a deadline.
 */
import { randomUUID } from 'node:crypto';
import { call, type Answer, type CallOptions, type RetryInfo, type TransportOptions } from './transport.js';
import { defaultRetries, type RetryOptions } from './retry.js';
import type { AnswerOf, Body, BodyOf, Method, PathParamsOf, PathsOf, QueryOf } from './types.js';
import { sdkVersion } from './version.js';

export interface HeraldOptions {
  /** Herald's base URL, such as http://127.0.0.1:8080. */
  url: string;
  /** The project's REST key (hrld_rest_…): the SDK is for your servers, never for a browser. */
  apiKey: string;
  /** Each call's deadline, all attempts and waits included (default 30 s). */
  timeoutMs?: number;
  /** One attempt's timeout (default 10 s, and never past the call's deadline). */
  attemptTimeoutMs?: number;
  retries?: Partial<RetryOptions>;
  /** Called before each wait for a retry (to log it, or count it). */
  onRetry?: (info: RetryInfo) => void;
}

export interface RequestOptions<P extends keyof import('./types.js').paths, M extends Method> extends CallOptions {
  params?: PathParamsOf<P, M>;
  query?: QueryOf<P, M>;
}

type SendBody = Body<'/v1/transactional/send', 'post'>;
type ProfileOperation = Body<'/v1/profiles/update', 'post'>[number];
type EventsBody = Body<'/v1/sdk/events', 'post'>;
type EventInput = Omit<EventsBody['events'][number], 'id' | 'time'> & { id?: string; time?: string };
type AttributesBody = Body<'/v1/sdk/attributes', 'post'>;
type AttributesInput = Omit<AttributesBody, 'id' | 'time'> & { id?: string; time?: string };

export class Herald {
  private readonly options: TransportOptions;

  constructor(o: HeraldOptions) {
    if (!o.url) throw new TypeError('Herald: url is required');
    if (!o.apiKey) throw new TypeError('Herald: apiKey is required');
    this.options = {
      url: o.url, apiKey: o.apiKey,
      timeoutMs: o.timeoutMs ?? 30_000,
      attemptTimeoutMs: o.attemptTimeoutMs ?? 10_000,
      retries: { ...defaultRetries, ...o.retries },
      userAgent: `herald-node/${sdkVersion} node/${process.versions.node}`,
      onRetry: o.onRetry,
    };
  }

  /**
   * Any route of the API, typed from its OpenAPI document: `path` is the route's template
   * (`/v1/messages/{id}`) and `options.params` fills it. Answers the success body; throws HeraldError.
   */
  async request<M extends Method, P extends PathsOf<M>>(method: M, path: P, body?: BodyOf<P, M>, options: RequestOptions<P, M> = {}): Promise<AnswerOf<P, M>> {
    return (await this.requestFull(method, path, body, options)).body;
  }

  /** As `request`, with the answer's status, headers, attempts, key and whether it was a replay. */
  requestFull<M extends Method, P extends PathsOf<M>>(method: M, path: P, body?: BodyOf<P, M>, options: RequestOptions<P, M> = {}): Promise<Answer<AnswerOf<P, M>>> {
    const { params, query, ...rest } = options;
    return call<AnswerOf<P, M>>(this.options, {
      ...rest, method, template: path, body,
      params: params as Record<string, string> | undefined,
      query: query as Record<string, string | number | boolean | undefined> | undefined,
    });
  }

  readonly messages = {
    /** POST /v1/transactional/send: answers once the message is durably stored. */
    send: (body: SendBody, o: CallOptions = {}) => this.request('post', '/v1/transactional/send', body, o),
    get: (id: string, query?: QueryOf<'/v1/messages/{id}', 'get'>, o: CallOptions = {}) =>
      this.request('get', '/v1/messages/{id}', undefined, { ...o, params: { id }, query }),
  };

  readonly profiles = {
    /** POST /v1/profiles/update; every event without an id gets one, so a retry stores it once. */
    update: (operations: ProfileOperation[], o: CallOptions = {}) =>
      this.request('post', '/v1/profiles/update', operations.map((op) => op.events
        ? { ...op, events: op.events.map((e) => (e.id ? e : { ...e, id: randomUUID() })) } : op), o),
    get: (customId: string, o: CallOptions = {}) =>
      this.request('get', '/v1/profiles/{custom_id}', undefined, { ...o, params: { custom_id: customId } }),
    /** PUT /v1/profiles/{custom_id}: sets its email, phone and subscription states. */
    set: (customId: string, body: Body<'/v1/profiles/{custom_id}', 'put'>, o: CallOptions = {}) =>
      this.request('put', '/v1/profiles/{custom_id}', body, { ...o, params: { custom_id: customId } }),
    /** DELETE /v1/profiles/{custom_id}: erases everything held on the person. */
    erase: (customId: string, o: CallOptions = {}) =>
      this.request('delete', '/v1/profiles/{custom_id}', undefined, { ...o, params: { custom_id: customId } }),
    export: (customId: string, o: CallOptions = {}) =>
      this.request('get', '/v1/profiles/{custom_id}/export', undefined, { ...o, params: { custom_id: customId } }),
  };

  /** An installation's events and attribute changes (the SDK data routes, with the REST key: no identity token needed). */
  readonly events = {
    /** POST /v1/sdk/events; ids (made here when absent) make a retry store each event once. */
    track: (installId: string, events: EventInput[], o: CallOptions = {}) => {
      const now = new Date().toISOString();
      return this.request('post', '/v1/sdk/events', {
        install_id: installId,
        events: events.map((e) => ({ ...e, id: e.id ?? randomUUID(), time: e.time ?? now })),
      }, o);
    },
    /** POST /v1/sdk/attributes; one id per change (made here when absent). */
    attributes: (change: AttributesInput, o: CallOptions = {}) =>
      this.request('post', '/v1/sdk/attributes', { ...change, id: change.id ?? randomUUID(), time: change.time ?? new Date().toISOString() }, o),
  };

  readonly installations = {
    /** POST /v1/sdk/installations: registers or updates (by install_id). */
    register: (body: Body<'/v1/sdk/installations', 'post'>, o: CallOptions = {}) => this.request('post', '/v1/sdk/installations', body, o),
    identify: (body: Body<'/v1/sdk/identify', 'post'>, o: CallOptions = {}) => this.request('post', '/v1/sdk/identify', body, o),
    logout: (body: Body<'/v1/sdk/logout', 'post'>, o: CallOptions = {}) => this.request('post', '/v1/sdk/logout', body, o),
  };

  readonly segments = {
    create: (body: Body<'/v1/segments', 'post'>, o: CallOptions = {}) => this.request('post', '/v1/segments', body, o),
    list: (query?: QueryOf<'/v1/segments', 'get'>, o: CallOptions = {}) => this.request('get', '/v1/segments', undefined, { ...o, query }),
    get: (id: string, o: CallOptions = {}) => this.request('get', '/v1/segments/{id}', undefined, { ...o, params: { id } }),
    update: (id: string, body: Body<'/v1/segments/{id}', 'patch'>, o: CallOptions = {}) =>
      this.request('patch', '/v1/segments/{id}', body, { ...o, params: { id } }),
    delete: (id: string, o: CallOptions = {}) => this.request('delete', '/v1/segments/{id}', undefined, { ...o, params: { id } }),
    count: (id: string, o: CallOptions = {}) => this.request('post', '/v1/segments/{id}/count', undefined, { ...o, params: { id } }),
  };

  readonly audiences = {
    create: (body: Body<'/v1/audiences', 'post'>, o: CallOptions = {}) => this.request('post', '/v1/audiences', body, o),
    list: (query?: QueryOf<'/v1/audiences', 'get'>, o: CallOptions = {}) => this.request('get', '/v1/audiences', undefined, { ...o, query }),
    get: (id: string, o: CallOptions = {}) => this.request('get', '/v1/audiences/{id}', undefined, { ...o, params: { id } }),
    delete: (id: string, o: CallOptions = {}) => this.request('delete', '/v1/audiences/{id}', undefined, { ...o, params: { id } }),
    /** POST /v1/audiences/{id}/members: add and remove; answers an indexing token. */
    change: (id: string, body: Body<'/v1/audiences/{id}/members', 'post'>, o: CallOptions = {}) =>
      this.request('post', '/v1/audiences/{id}/members', body, { ...o, params: { id } }),
    /** PUT /v1/audiences/{id}/members: replace all members. */
    replace: (id: string, body: Body<'/v1/audiences/{id}/members', 'put'>, o: CallOptions = {}) =>
      this.request('put', '/v1/audiences/{id}/members', body, { ...o, params: { id } }),
    indexing: (id: string, token: string, o: CallOptions = {}) =>
      this.request('get', '/v1/audiences/{id}/indexing/{token}', undefined, { ...o, params: { id, token } }),
  };

  readonly project = {
    keys: (o: CallOptions = {}) => this.request('get', '/v1/project/keys', undefined, o),
    /** POST /v1/project/keys: not repeatable (each call makes a key), so retried only when it certainly was not applied. */
    createKey: (body: Body<'/v1/project/keys', 'post'>, o: CallOptions = {}) => this.request('post', '/v1/project/keys', body, o),
    revokeKey: (id: string, o: CallOptions = {}) => this.request('post', '/v1/project/keys/{id}/revoke', undefined, { ...o, params: { id } }),
  };
}
