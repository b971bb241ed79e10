/**
 * Built files Herald serves itself (the Web SDK, the dashboard): read once per process (they
 * change only with a new build, which means a new process), each with a strong ETag so browsers
 * revalidate cheaply. A file missing (not built yet) is looked for again on the next request.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { FastifyReply, FastifyRequest } from 'fastify';

export interface StaticFile {
  file: string;
  contentType: string;
  headers: Record<string, string>;
}

interface Loaded {
  body: Buffer;
  etag: string;
}

/**
 * Serves `asset` from `dir`: resolves `sent`, or `missing` when it is not built (the caller answers
 * 404). The reply is not what it resolves: a Fastify reply is a thenable that settles when the
 * response is finished (https://fastify.dev/docs/latest/Reference/Reply/#then), so an async
 * function returning it would wait for the response and resolve to undefined.
 */
export function staticFiles(dir: string) {
  const cache = new Map<string, Promise<Loaded>>();
  const load = (file: string): Promise<Loaded> => {
    let hit = cache.get(file);
    if (!hit) {
      hit = readFile(join(dir, file)).then((body) => ({
        body,
        etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"`,
      }));
      hit.catch(() => cache.delete(file));
      cache.set(file, hit);
    }
    return hit;
  };
  return async (req: FastifyRequest, reply: FastifyReply, asset: StaticFile): Promise<'sent' | 'missing'> => {
    let loaded: Loaded;
    try {
      loaded = await load(asset.file);
    } catch {
      return 'missing';
    }
    void reply.headers({ ...asset.headers, etag: loaded.etag, 'x-content-type-options': 'nosniff' });
    if (req.headers['if-none-match'] === loaded.etag) void reply.code(304).send();
    else void reply.type(asset.contentType).send(loaded.body);
    return 'sent';
  };
}
