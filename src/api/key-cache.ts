/**
 * The auth hook's cache of API keys: the answer for a key (its owner, or "unknown") kept for a TTL,
 * so the hot path does not hit the database per call. Two bounded LRUs: known keys, and a smaller
 * one for unknown keys, so a flood of random keys evicts only other unknown keys, never the keys
 * projects really use. Concurrent lookups of one key share one database read.
 */
import type { KeyOwner } from '../store/projects.js';

export interface KeyCacheOptions {
  lookup: (key: string) => Promise<KeyOwner | undefined>;
  ttlMs: number;
  maxKnown: number;
  maxUnknown: number;
  clock?: () => number;
}

export interface KeyCache {
  get(key: string): Promise<KeyOwner | undefined>;
  /** Forgets a key by its id (revoked in this process): its next use is looked up again. */
  forgetKeyId(keyId: string): void;
}

interface Entry<T> { value: T; until: number }

/** A Map kept in use order (least recent first): a hit moves its entry to the end. */
class Lru<T> {
  private readonly entries = new Map<string, Entry<T>>();
  constructor(private readonly max: number) {}
  get(key: string, now: number): T | undefined {
    const e = this.entries.get(key);
    if (!e) return undefined;
    this.entries.delete(key);
    if (e.until <= now) return undefined;
    this.entries.set(key, e);
    return e.value;
  }
  set(key: string, value: T, until: number): void {
    this.entries.delete(key);
    if (this.entries.size >= this.max) {
      const oldest = this.entries.keys().next();
      if (!oldest.done) this.entries.delete(oldest.value);
    }
    this.entries.set(key, { value, until });
  }
  deleteWhere(match: (value: T) => boolean): void {
    for (const [k, e] of this.entries) if (match(e.value)) this.entries.delete(k);
  }
}

export function createKeyCache(o: KeyCacheOptions): KeyCache {
  const clock = o.clock ?? Date.now;
  const known = new Lru<KeyOwner>(o.maxKnown);
  const unknown = new Lru<true>(o.maxUnknown);
  const inFlight = new Map<string, Promise<KeyOwner | undefined>>();
  // A read that began before a revocation may return the key as active: it is not kept.
  let generation = 0;
  return {
    async get(key) {
      const now = clock();
      const owner = known.get(key, now);
      if (owner) return owner;
      if (unknown.get(key, now)) return undefined;
      let pending = inFlight.get(key);
      if (!pending) {
        const startedIn = generation;
        pending = o.lookup(key).then((found) => {
          if (startedIn !== generation) return found;
          const until = clock() + o.ttlMs;
          if (found) known.set(key, found, until);
          else unknown.set(key, true, until);
          return found;
        }).finally(() => inFlight.delete(key));
        inFlight.set(key, pending);
      }
      return pending;
    },
    forgetKeyId(keyId) {
      generation++;
      known.deleteWhere((owner) => owner.keyId === keyId);
    },
  };
}
