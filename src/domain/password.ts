/**
 * Operator passwords, hashed with scrypt (RFC 7914), a memory-hard function, at the cost OWASP's
 * Password Storage Cheat Sheet gives as the minimum: N = 2^17, r = 8, p = 1, i.e. 128 MiB per hash
 * (https://cheatsheetseries.owasp.org/cheatsheets/Password_Storage_Cheat_Sheet.html#scrypt).
 * node:crypto's scrypt runs on libuv's thread pool, so a login never blocks the event loop.
 *
 * Stored as `scrypt$<log2 N>$<r>$<p>$<salt>$<hash>` (base64url): the parameters travel with each
 * hash, so raising the cost later only makes old hashes `needsRehash` at their next login.
 */
import { randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto';

export interface ScryptCost {
  log2N: number;
  r: number;
  p: number;
}

export const passwordCost: ScryptCost = { log2N: 17, r: 8, p: 1 };

/** NIST SP 800-63B §5.1.1.2: at least 8 characters; at most 64 is the least a verifier must allow. */
export const minPasswordLength = 8;
export const maxPasswordLength = 256;

const keyLength = 32;

function derive(password: string, salt: Buffer, c: ScryptCost): Promise<Buffer> {
  const N = 2 ** c.log2N;
  // scrypt needs 128·N·r bytes; Node's default cap (32 MiB) is below the cost above.
  const options: ScryptOptions = { N, r: c.r, p: c.p, maxmem: 128 * N * c.r + 1024 * 1024 };
  return new Promise((resolve, reject) => {
    scrypt(password.normalize('NFKC'), salt, keyLength, options, (err, key) => (err ? reject(err) : resolve(key)));
  });
}

export async function hashPassword(password: string, cost: ScryptCost = passwordCost): Promise<string> {
  const salt = randomBytes(16);
  const key = await derive(password, salt, cost);
  return ['scrypt', cost.log2N, cost.r, cost.p, salt.toString('base64url'), key.toString('base64url')].join('$');
}

function parse(stored: string): { cost: ScryptCost; salt: Buffer; key: Buffer } | undefined {
  const [scheme, log2N, r, p, salt, key] = stored.split('$');
  if (scheme !== 'scrypt' || !salt || !key) return undefined;
  const cost = { log2N: Number(log2N), r: Number(r), p: Number(p) };
  if (![cost.log2N, cost.r, cost.p].every((n) => Number.isInteger(n) && n > 0) || cost.log2N > 24) return undefined;
  return { cost, salt: Buffer.from(salt, 'base64url'), key: Buffer.from(key, 'base64url') };
}

/** True when `password` is the one `stored` was made from; compared in constant time. */
export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const s = parse(stored);
  if (!s) return false;
  const key = await derive(password, s.salt, s.cost);
  return key.length === s.key.length && timingSafeEqual(key, s.key);
}

/** True when `stored` was made at a lower cost than today's: hash again after a good login. */
export function needsRehash(stored: string, cost: ScryptCost = passwordCost): boolean {
  const s = parse(stored);
  return !s || s.cost.log2N < cost.log2N || s.cost.r < cost.r || s.cost.p < cost.p;
}
