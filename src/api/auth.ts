/**
 * Bearer-key authentication. Every request carries `Authorization: Bearer <key>`; the key's SHA-256
 * is looked up, and the answer cached briefly so the hot path does not hit the database per call.
 */
import type { FastifyRequest } from 'fastify';
import type { Sql } from 'postgres';
import { findKey, type KeyOwner } from '../store/projects.js';
import { ApiError } from './errors.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** The project and key kind of the caller, set by the auth hook. */
    caller: KeyOwner;
  }
  interface FastifyContextConfig {
    /** 'rest': the secret key only; 'sdk': the public SDK key or the REST key; absent: public. */
    auth?: 'rest' | 'sdk';
  }
}

/** A revoked key stops working within this delay. */
const cacheTtlMs = 30_000;
const cacheMax = 10_000;

export function authenticator(sql: Sql) {
  const cache = new Map<string, { owner: KeyOwner | undefined; until: number }>();
  const lookup = async (key: string): Promise<KeyOwner | undefined> => {
    const hit = cache.get(key);
    if (hit && hit.until > Date.now()) return hit.owner;
    const owner = await findKey(sql, key);
    if (cache.size >= cacheMax) cache.clear();
    cache.set(key, { owner, until: Date.now() + cacheTtlMs });
    return owner;
  };
  return async (req: FastifyRequest): Promise<void> => {
    const needed = req.routeOptions.config.auth;
    if (!needed) return;
    const header = req.headers.authorization;
    const key = header?.startsWith('Bearer ') ? header.slice(7).trim() : undefined;
    if (!key) throw new ApiError('unauthorized', 'send your API key as "Authorization: Bearer <key>"');
    const owner = await lookup(key);
    if (!owner) throw new ApiError('unauthorized', 'this API key is unknown or revoked');
    if (needed === 'rest' && owner.kind !== 'rest') {
      throw new ApiError('forbidden_for_sdk_key', 'this endpoint needs the project\'s secret REST key, not the SDK key');
    }
    req.caller = owner;
  };
}
