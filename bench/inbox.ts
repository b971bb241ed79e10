/**
 * `npm run bench -- inbox`: what the inbox costs, in-process over a fresh database of the shared
 * PostgreSQL (no HTTP: the store functions the routes and the fan-out call).
 *
 * 1. The fan-out (store/deliveries.ts#fanOutMessages) of the same sends, one device per profile,
 *    `--messages` messages of `--recipients` custom_ids each, one transaction per batch of 10, three
 *    times: (a) without the inbox flag, (b) with it (every delivery also writes its profile's item,
 *    in the same transaction), (c) without it again, so the baseline is taken on both sides of (b).
 *    Reported: deliveries/s of each, (b) beside the mean of (a) and (c).
 * 2. Reading: `--inboxes` profiles with `--items` items each over 12 weeks (a third unread),
 *    written straight into inbox_items; then, at concurrency 8 on 8 connections, the first page of
 *    20 with its exact unread count (store/inbox.ts#inboxPage) for a random profile, against the
 *    baseline of a bare primary-key SELECT of one item of the same table; and a mark of one item
 *    read with the count after it (store/inbox.ts#markInbox). Reported: p50 and p99 latency.
 *
 * Options: --messages N (40) --recipients N (500) --inboxes N (2000) --items N (200) --calls N (4000)
 *          --database-url URL (postgres://postgres@127.0.0.1:5432/postgres)
 */
import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import postgres, { type Sql } from 'postgres';
import { migrate } from '../src/store/migrate.js';
import { createKeyring } from '../src/store/sealed.js';
import { createProject } from '../src/store/projects.js';
import { insertMessages, type NewMessage } from '../src/store/messages.js';
import { fanOutMessages } from '../src/store/deliveries.js';
import { inboxPage, markInbox, writeInboxItems, type NewInboxItem } from '../src/store/inbox.js';
import { uuidv7 } from '../src/domain/ids.js';
import { createScratchDatabase } from './support/databases.js';
import { printTable, saveResult, type Row } from './support/report.js';

const { values } = parseArgs({
  options: {
    messages: { type: 'string', default: '40' },
    recipients: { type: 'string', default: '500' },
    inboxes: { type: 'string', default: '2000' },
    items: { type: 'string', default: '200' },
    calls: { type: 'string', default: '4000' },
    'database-url': { type: 'string', default: 'postgres://postgres@127.0.0.1:5432/postgres' },
  },
});
const messages = Number(values.messages);
const recipients = Number(values.recipients);
const inboxes = Number(values.inboxes);
const itemsEach = Number(values.items);
const calls = Number(values.calls);
const concurrency = 8;

const percentile = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
};

/** Runs `fn` `n` times at `concurrency`, returning each call's milliseconds. */
async function timed(n: number, fn: (i: number) => Promise<unknown>): Promise<number[]> {
  const out: number[] = [];
  let next = 0;
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next < n) {
      const i = next++;
      const t0 = performance.now();
      await fn(i);
      out.push(performance.now() - t0);
    }
  }));
  return out;
}

console.log(`# inbox benchmark: fan-out of ${messages} × ${recipients} recipients; reads over ${inboxes} inboxes of ${itemsEach} items`);
const db = await createScratchDatabase(values['database-url'], 'inbox');
const sql: Sql = postgres(db.url, { max: concurrency, onnotice: () => {} });
const rows: Row[] = [];
try {
  await migrate(sql);
  const project = await createProject(sql, 'bench', createKeyring(randomBytes(32)));
  const p = project.project_id;
  const people = messages * recipients;
  await sql`insert into profiles (project_id, custom_id) select ${p}, 'u' || g from generate_series(1, ${people}) g`;
  await sql`insert into installations (project_id, install_id, custom_id, platform, push_token)
            select ${p}, 'i' || g, 'u' || g, 'ios', encode(sha256(('t' || g)::bytea), 'hex') from generate_series(1, ${people}) g`;
  await sql`analyze`;

  /** One fan-out run: every profile once, `messages` messages in transactions of 10. */
  const fanOut = async (label: string, inbox: boolean) => {
    const ms: NewMessage[] = Array.from({ length: messages }, (_, m) => ({
      id: uuidv7(), projectId: p, groupId: 'bench', createdAt: new Date(), expiresAt: null,
      recipients: { custom_ids: Array.from({ length: recipients }, (_, r) => `u${m * recipients + r + 1}`) },
      content: { push: { title: 'Hello', body: 'The inbox benchmark', ...(inbox ? { inbox: true } : {}) } },
    }));
    await sql.begin((tx) => insertMessages(tx, ms));
    const t0 = performance.now();
    for (let i = 0; i < ms.length; i += 10) {
      await sql.begin((tx) => fanOutMessages(tx, ms.slice(i, i + 10).map((m) => m.id), new Date()));
    }
    const s = (performance.now() - t0) / 1000;
    const [d] = await sql<{ n: number }[]>`select count(*)::int as n from deliveries where message_id = any(${ms.map((m) => m.id)}::uuid[])`;
    const [it] = await sql<{ n: number }[]>`select count(*)::int as n from inbox_items where message_id = any(${ms.map((m) => m.id)}::uuid[])`;
    const row = { step: `fan-out ${label}`, deliveries: d!.n, inbox_items: it!.n, seconds: s, 'deliveries/s': d!.n / s };
    rows.push(row);
    return row['deliveries/s'];
  };
  const a = await fanOut('(a) no inbox', false);
  const b = await fanOut('(b) inbox', true);
  const c = await fanOut('(c) no inbox', false);
  rows.push({ step: '(b) vs mean of (a), (c)', 'deliveries/s': b, seconds: undefined, deliveries: undefined, inbox_items: undefined, ratio: `${((b / ((a + c) / 2) - 1) * 100).toFixed(1)}%` });

  // Reading: big inboxes written straight into the table, spread over 12 weeks.
  const now = Date.now();
  const msgIds: string[] = [];
  for (let i = 0; i < itemsEach; i++) msgIds.push(uuidv7(now - i * 3_600_000 * 10));
  const spanMs = 84 * 86_400_000;
  // Messages for the items (the insert copies their text), then the items themselves in chunks.
  await sql`insert into messages (id, project_id, group_id, recipients, content, created_at)
            select u.id, ${p}, 'bench', '{}', ${sql.json({ push: { title: 'Old news', body: 'Read me', inbox: true } })}, to_timestamp(u.at / 1000.0)
            from unnest(${msgIds}::uuid[], ${msgIds.map((_, i) => now - Math.floor((i / itemsEach) * spanMs))}::float8[]) as u(id, at)`;
  for (let from = 0; from < inboxes; from += 200) {
    const items: NewInboxItem[] = [];
    for (let o = from; o < Math.min(inboxes, from + 200); o++) {
      for (let i = 0; i < itemsEach; i++) {
        items.push({ projectId: p, messageId: msgIds[i]!, createdAt: new Date(now - Math.floor((i / itemsEach) * spanMs)), owner: { kind: 'profile', id: `r${o}` } });
      }
    }
    await sql.begin((tx) => writeInboxItems(tx, items));
  }
  // A third unread: the others read.
  await sql`update inbox_items set read_at = created_at where owner like 'r%' and ('x' || substr(md5(owner || message_id::text), 1, 8))::bit(32)::int % 3 <> 0`;
  await sql`analyze inbox_items`;
  const since = new Date(now - 90 * 86_400_000);
  const pick = () => `r${Math.floor(Math.random() * inboxes)}`;
  const report = (step: string, ms: number[]) => rows.push({ step, calls: ms.length, 'p50 ms': percentile(ms, 50), 'p99 ms': percentile(ms, 99) });

  const pk = await timed(calls, () => sql`select title from inbox_items where project_id = ${p} and owner_kind = 'profile' and owner = ${pick()}
    and created_at = ${new Date(now)} and message_id = ${msgIds[0]!}`);
  report('baseline: one item by primary key', pk);
  let unreadSeen = 0;
  const pages = await timed(calls, async () => {
    const page = await inboxPage(sql, p, { kind: 'profile', id: pick() }, { limit: 20, archived: false, since });
    unreadSeen += page.unread;
  });
  report(`first page of 20 + exact unread count (mean unread ${Math.round(unreadSeen / calls)})`, pages);
  const marks = await timed(calls, () => markInbox(sql, p, { kind: 'profile', id: pick() }, {
    ids: [msgIds[Math.floor(Math.random() * itemsEach)]!], action: 'read', since, now: new Date(),
  }));
  report('mark one item read + unread count after', marks);

  printTable(rows);
  console.log(`saved ${await saveResult('inbox', { messages, recipients, inboxes, items: itemsEach, calls, concurrency, rows })}`);
} finally {
  await sql.end({ timeout: 5 });
  await db.drop();
}
