/**
 * The baseline of the accept benchmark: Herald's HTTP stack (Fastify with the same body limit and
 * JSON parsing) with a route that does nothing durable. `node dist/bench/noop-server.js PORT`.
 */
import Fastify from 'fastify';
import { randomUUID } from 'node:crypto';

const app = Fastify({ logger: false, bodyLimit: 1024 * 1024 });
app.post('/noop', async (_req, reply) => reply.code(202).send({ message_id: randomUUID() }));
await app.listen({ host: '127.0.0.1', port: Number(process.argv[2] ?? 0) });
process.on('SIGTERM', () => void app.close().then(() => process.exit(0)));
