/**
 * The dashboard's API client: openapi-fetch over the types generated from Herald's OpenAPI
 * document (openapi.d.ts, written by build.mjs), so a call that does not match the API does not
 * compile. The session travels in its HttpOnly cookie (same origin); every call names the open
 * project in X-Herald-Project, and every change carries the session's CSRF token.
 */
import createClient, { type Middleware } from 'openapi-fetch';
import type { paths } from './openapi.js';
import { csrfToken, project } from '../state.js';

const headers: Middleware = {
  onRequest({ request }) {
    if (project.value) request.headers.set('x-herald-project', project.value.id);
    if (request.method !== 'GET' && request.method !== 'HEAD' && csrfToken.value) request.headers.set('x-csrf-token', csrfToken.value);
    return request;
  },
};

export const api = createClient<paths>({ baseUrl: location.origin, credentials: 'same-origin' });
api.use(headers);

/** The error an API call answered (its catalogue code and message), for showing to the operator. */
export interface ApiProblem {
  code: string;
  message: string;
}

export function problemOf(error: unknown): ApiProblem {
  const e = (error as { error?: { code?: string; message?: string } } | undefined)?.error;
  return { code: e?.code ?? 'network', message: e?.message ?? 'Herald did not answer: check that it is running.' };
}
