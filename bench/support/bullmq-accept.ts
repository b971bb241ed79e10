/**
 * The BullMQ pipeline's accept endpoint (bullmq-pipeline.ts): Fastify, like Herald's API, taking
 * Herald's send body; stores the message in PostgreSQL, then adds its fan-out job to BullMQ, and
 * answers 202 with the message id.
 *
 *   node dist/bench/support/bullmq-accept.js --port N --database-url URL --redis-url URL --prefix P --project-id ID
 * Prints `ready` once it listens.
 */
import Fastify from 'fastify';
import { parseArgs } from 'node:util';
import { Queue } from 'bullmq';
import { connect } from '../../src/store/database.js';
import { uuidv7 } from '../../src/domain/ids.js';
import type { PushMessage } from '../../src/domain/push.js';
import { fanoutQueueName, redisConnection, type FanoutJobData } from './bullmq-pipeline.js';

const { values } = parseArgs({
  options: {
    port: { type: 'string' }, 'database-url': { type: 'string' }, 'redis-url': { type: 'string' },
    prefix: { type: 'string' }, 'project-id': { type: 'string' },
  },
});
const projectId = values['project-id']!;
// Herald's pool settings (store/database.ts) and size (server.ts).
const sql = connect(values['database-url']!, 20);
const fanout = new Queue<FanoutJobData>(fanoutQueueName, { connection: redisConnection(values['redis-url']!), prefix: values.prefix! });

interface SendBody {
  group_id: string;
  recipients: { tokens: { platform: string; token: string }[] };
  push: PushMessage;
}

// Validated by Fastify's ajv, as Herald validates with its TypeBox schema (a smaller schema here).
const schema = {
  body: {
    type: 'object', required: ['group_id', 'recipients', 'push'], additionalProperties: false,
    properties: {
      group_id: { type: 'string', pattern: '^[A-Za-z0-9_-]{1,128}$' },
      recipients: {
        type: 'object', required: ['tokens'], additionalProperties: false,
        properties: {
          tokens: {
            type: 'array', maxItems: 10_000,
            items: {
              type: 'object', required: ['platform', 'token'], additionalProperties: false,
              properties: { platform: { enum: ['ios', 'android', 'web'] }, token: { type: 'string', minLength: 1, maxLength: 4096 } },
            },
          },
        },
      },
      push: {
        type: 'object', required: ['title', 'body'],
        properties: { title: { type: 'string', minLength: 1, maxLength: 1024 }, body: { type: 'string', minLength: 1, maxLength: 4096 } },
      },
    },
  },
};

const app = Fastify({ logger: false, bodyLimit: 1024 * 1024 * 4 });
app.get('/healthz', async () => ({ ok: true }));
app.post<{ Body: SendBody }>('/v1/transactional/send', { schema }, async (req, reply) => {
  const { group_id, recipients, push } = req.body;
  const id = uuidv7();
  const [row] = await sql<{ created_at: Date }[]>`
    insert into messages (id, project_id, group_id, recipients, content)
    values (${id}, ${projectId}, ${group_id}, ${JSON.stringify(recipients)}::jsonb, ${JSON.stringify({ push })}::jsonb)
    returning created_at`;
  // After the commit, as a Novu-like API does: not atomic with the insert (no outbox).
  await fanout.add('fanout', { message_id: id, project_id: projectId, created_at: row!.created_at.getTime(), push, tokens: recipients.tokens },
    { jobId: id, removeOnComplete: true, removeOnFail: 1000 });
  return reply.code(202).send({ message_id: id });
});
await fanout.waitUntilReady();
await app.listen({ host: '127.0.0.1', port: Number(values.port) });
process.stdout.write('ready\n');
process.on('SIGTERM', () => {
  void (async () => {
    await app.close();
    await fanout.close();
    await sql.end({ timeout: 5 });
    process.exit(0);
  })();
});
