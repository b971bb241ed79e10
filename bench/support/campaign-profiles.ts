/**
 * The profiles of bench/campaign.ts, written with COPY (store/copy-streams.ts) straight into a
 * project's tables: N profiles with native fields and custom attributes, their events, and one iOS
 * installation each (so every recipient is reachable on the APNs simulator). Deterministic in the
 * profile's index, so the segment below matches the same profiles in every run:
 *
 *   tier          gold 15%, silver 25%, bronze 30%, none 30% (spread by a multiplicative hash)
 *   purchase      within the last 20 days for every 6th profile, 100 days ago for a third of the rest
 *   app_open, view_item   one each, within the last 30 and 90 days
 *
 * `segmentQuery` (an iOS installation with push enabled, and gold or silver or a purchase in the
 * last 30 days) matches 1 − 0.6 × 5/6 = 50% of them.
 */
import { randomUUID } from 'node:crypto';
import type { Sql } from 'postgres';
import { copyIn } from '../../src/store/copy-streams.js';

const day = 86_400_000;
const zones = ['Europe/Paris', 'Europe/London', 'America/New_York', 'America/Los_Angeles', 'America/Sao_Paulo', 'Asia/Tokyo',
  'Asia/Kolkata', 'Australia/Sydney', 'Africa/Lagos', 'Pacific/Auckland'];
const languages = ['en', 'fr', 'de', 'es', 'pt-BR', 'ja'];
const firstNames = ['Ada', 'Grace', 'Alan', 'Edsger', 'Barbara', 'Donald', 'Frances', 'Ken'];

export const customId = (i: number) => `user${String(i).padStart(9, '0')}`;
const tierOf = (i: number) => {
  const h = (i * 2_654_435_761) % 100; // Knuth's multiplicative hash: tiers independent of i % 6
  return h < 15 ? 'gold' : h < 40 ? 'silver' : h < 70 ? 'bronze' : 'none';
};
/** A unique 64-hex-character APNs device token per profile. */
export const tokenOf = (i: number) => i.toString(16).padStart(16, '0') + 'b'.repeat(48);

export const segmentQuery = {
  all: [
    { installation: { platform: { eq: 'ios' }, push_enabled: true } },
    { any: [{ attribute: 'tier', in: ['gold', 'silver'] }, { event: 'purchase', within_days: 30 }] },
  ],
};

/** COPY's text format, a chunk of lines at a time (no value here holds a tab, newline or backslash). */
async function* lines(n: number, rowsOf: (i: number) => string[][]): AsyncGenerator<Buffer> {
  let chunk: string[] = [];
  for (let i = 0; i < n; i++) {
    for (const r of rowsOf(i)) chunk.push(r.join('\t'));
    if (chunk.length >= 5_000) {
      yield Buffer.from(chunk.join('\n') + '\n');
      chunk = [];
    }
  }
  if (chunk.length) yield Buffer.from(chunk.join('\n') + '\n');
}

const N = '\\N';

/** Writes N profiles, their events and installations; then ANALYZE, as autovacuum would after a load this size. */
export async function loadProfiles(sql: Sql, projectId: string, n: number, now: number): Promise<{ events: number; seconds: Record<string, number> }> {
  const seconds: Record<string, number> = {};
  const iso = (ms: number) => new Date(ms).toISOString();
  const timed = async (name: string, work: () => Promise<void>) => {
    const t0 = performance.now();
    await work();
    seconds[name] = (performance.now() - t0) / 1000;
  };
  await timed('profiles', () => sql.begin(async (tx) => {
    await copyIn(tx, 'copy profiles (project_id, custom_id, email, language, region, timezone, email_subscription, attributes) from stdin',
      lines(n, (i) => [[projectId, customId(i), `${customId(i)}@example.com`, languages[i % languages.length]!, i % 2 ? 'US' : 'FR',
        i % 10 === 9 ? N : zones[i % zones.length]!, 'subscribed',
        JSON.stringify({ tier: tierOf(i), first_name: firstNames[i % firstNames.length], score: (i * 7) % 100, signed_up: { $date: iso(now - (i % 700) * day) } })]]));
  }));
  let events = 0;
  await timed('events', () => sql.begin(async (tx) => {
    await copyIn(tx, 'copy events (project_id, id, custom_id, name, time, attributes) from stdin', lines(n, (i) => {
      const rows = [
        [projectId, randomUUID(), customId(i), 'app_open', iso(now - (i % 30) * day - 3_600_000), '{}'],
        [projectId, randomUUID(), customId(i), 'view_item', iso(now - (i % 90) * day - 7_200_000), `{"sku":"sku-${i % 500}"}`],
      ];
      if (i % 6 === 0) rows.push([projectId, randomUUID(), customId(i), 'purchase', iso(now - (i % 20) * day - 3_600_000), `{"amount":${(i % 90) + 10}}`]);
      else if (i % 3 === 1) rows.push([projectId, randomUUID(), customId(i), 'purchase', iso(now - 100 * day), '{"amount":25}']);
      events += rows.length;
      return rows;
    }));
  }));
  await timed('installations', () => sql.begin(async (tx) => {
    await copyIn(tx, 'copy installations (project_id, install_id, platform, push_token, custom_id, timezone, language, app_version, apns_environment) from stdin',
      lines(n, (i) => [[projectId, `install-${i}`, 'ios', tokenOf(i), customId(i), zones[i % zones.length]!, languages[i % languages.length]!, `4.${i % 12}.0`, 'production']]));
  }));
  await timed('analyze', async () => { await sql`analyze profiles, events, installations`; });
  return { events, seconds };
}
