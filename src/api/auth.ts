/**
 * Bearer-key authentication. Every request carries `Authorization: Bearer <key>`; the key's SHA-256
 * is looked up, and the answer cached briefly (api/key-cache.ts) so the hot path does not hit the
 * database per call. A request without the header may carry a dashboard session cookie instead
 * (api/operator-auth.ts): it then acts for the project it names, within its operator's role.
 */
import type { FastifyRequest } from 'fastify';
import type { Sql } from 'postgres';
import { systemClock, type Clock } from '../domain/clock.js';
import { findKey, type KeyOwner } from '../store/projects.js';
import { ApiError } from './errors.js';
import { createKeyCache } from './key-cache.js';
import { authorizeOperator, sessionOf } from './operator-auth.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** The project, key kind and key id of the caller, set by the auth hook. */
    caller: KeyOwner;
  }
  interface FastifyContextConfig {
    /**
     * 'rest': the secret key (or a dashboard session); 'sdk': the public SDK key or the REST key
     * (or a session); 'operator': a dashboard session only, no key; absent: public.
     */
    auth?: 'rest' | 'sdk' | 'operator';
  }
}

/** A key revoked by another process stops working within this delay (at once in the revoking one). */
export const authCacheTtlMs = 30_000;

export interface AuthCacheLimits {
  /** Keys in use kept; past it the least recently used is dropped. */
  maxKnown: number;
  /** Unknown keys remembered (so a client retrying a bad key does not hit the database per call). */
  maxUnknown: number;
}

export const defaultAuthCacheLimits: AuthCacheLimits = { maxKnown: 10_000, maxUnknown: 1_000 };

export interface Authenticator {
  /** The onRequest hook. */
  hook(req: FastifyRequest): Promise<void>;
  /** Called after this process revoked a key: the key stops working at once here. */
  forgetKeyId(keyId: string): void;
}

export function authenticator(sql: Sql, limits: AuthCacheLimits = defaultAuthCacheLimits, clock: Clock = systemClock): Authenticator {
  const cache = createKeyCache({ lookup: (key) => findKey(sql, key), ttlMs: authCacheTtlMs, ...limits });
  return {
    forgetKeyId: (keyId) => cache.forgetKeyId(keyId),
    hook: async (req) => {
      const needed = req.routeOptions.config.auth;
      if (!needed) return;
      const header = req.headers.authorization;
      if (header === undefined) {
        const session = await sessionOf(sql, clock, req);
        if (session) {
          if (needed === 'operator') {
            req.operator = { operator: session.operator, role: undefined, csrfToken: session.csrfToken, sessionToken: session.token };
            return;
          }
          const projectId = await authorizeOperator(sql, req, session);
          req.caller = { projectId, kind: 'rest', keyId: `operator:${session.operator.id}` };
          return;
        }
      }
      if (needed === 'operator') throw new ApiError('unauthorized', 'sign in to the dashboard first: this endpoint takes a dashboard session, not an API key');
      const key = header?.startsWith('Bearer ') ? header.slice(7).trim() : undefined;
      if (!key) throw new ApiError('unauthorized', 'send your API key as "Authorization: Bearer <key>"');
      const owner = await cache.get(key);
      if (!owner) throw new ApiError('unauthorized', 'this API key is unknown or revoked');
      if (needed === 'rest' && owner.kind !== 'rest') {
        throw new ApiError('forbidden_for_sdk_key', 'this endpoint needs the project\'s secret REST key, not the SDK key');
      }
      req.caller = owner;
    },
  };
}
