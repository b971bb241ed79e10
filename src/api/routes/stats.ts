/**
 * GET /v1/stats/...: what a campaign, a transactional group or the whole project came to, from
 * the hourly rollups (store/stats.ts; definitions in docs/analytics.md), by hour or by day of the
 * project's time zone or UTC, per variant and channel, over a range.
 */
import { Type, type Static } from '@sinclair/typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { Sql } from 'postgres';
import { systemClock, type Clock } from '../../domain/clock.js';
import { bucketLabel, ratesOf } from '../../domain/stats.js';
import { statsMetrics, type StatsMetric } from '../../store/stats-rollup.js';
import { postgresStats, type StatsBucket, type StatsCounters, type StatsSource, type StatsStore } from '../../store/stats.js';
import { projectSettings } from '../../store/projects.js';
import { getCampaign } from '../../store/campaigns.js';
import { ApiError } from '../errors.js';
import { DateTime, errorResponses, inputErrors, Nullable, restKeyErrors } from '../schemas.js';

/** The longest range one call reads: a year of days, or 31 days of hours. */
const maxDays = { day: 366, hour: 31 } as const;
const dayMs = 24 * 3600 * 1000;

const Rate = Nullable(Type.Number({ minimum: 0 }));
const Metrics = Type.Object({
  ...Object.fromEntries(statsMetrics.map((m) => [m, Type.Integer({ minimum: 0 })])) as Record<StatsMetric, ReturnType<typeof Type.Integer>>,
  skipped_by_reason: Type.Record(Type.String(), Type.Integer({ minimum: 0 })),
  delivery_rate: Rate, open_rate: Rate, click_rate: Rate, click_to_open_rate: Rate,
});
const Bucket = Type.Intersect([
  Type.Object({
    start: DateTime,
    local: Type.String({ description: 'The bucket\'s start on the wall clock of time_zone: YYYY-MM-DD (day) or YYYY-MM-DDTHH:MM (hour).' }),
    variant: Type.String({ description: 'The A/B variant\'s index; empty when there is none.' }),
    channel: Type.String(),
  }),
  Metrics,
]);
const Stats = Type.Object({
  source: Type.Object({ kind: Type.String(), id: Nullable(Type.String()) }),
  from: DateTime,
  to: DateTime,
  granularity: Type.Union([Type.Literal('hour'), Type.Literal('day')]),
  time_zone: Type.String(),
  totals: Metrics,
  variants: Type.Array(Type.Intersect([Type.Object({ variant: Type.String() }), Metrics])),
  buckets: Type.Array(Bucket),
});

const Query = Type.Object({
  from: Type.Optional(Type.String({ format: 'date-time', description: 'Included; default: `to` minus 7 days.' })),
  to: Type.Optional(Type.String({ format: 'date-time', description: 'Excluded; default: now.' })),
  granularity: Type.Optional(Type.Union([Type.Literal('hour'), Type.Literal('day')], { default: 'day' })),
  time_zone: Type.Optional(Type.Union([Type.Literal('project'), Type.Literal('UTC')], { default: 'project', description: 'Days are cut at midnight in the project\'s time zone (GET /v1/project) or in UTC.' })),
}, { additionalProperties: false });

type Metrics = Static<typeof Metrics>;

/** The sum of several buckets (the totals, a variant's). */
function metricsOf(parts: { counters: StatsCounters; skippedByReason: Record<string, number> }[]): Metrics {
  const c = Object.fromEntries(statsMetrics.map((m) => [m, 0])) as StatsCounters;
  const skipped: Record<string, number> = {};
  for (const p of parts) {
    for (const m of statsMetrics) c[m] += p.counters[m];
    for (const [r, n] of Object.entries(p.skippedByReason)) skipped[r] = (skipped[r] ?? 0) + n;
  }
  return { ...c, skipped_by_reason: skipped, ...ratesOf(c) };
}


const hourFloor = (ms: number) => Math.floor(ms / 3600_000) * 3600_000;

export const statsRoutes = (deps: { sql: Sql; clock?: Clock | undefined; store?: StatsStore | undefined }): FastifyPluginAsyncTypebox => async (app) => {
  const clock = deps.clock ?? systemClock;
  const store = deps.store ?? postgresStats(deps.sql);
  const errors = errorResponses(inputErrors, restKeyErrors, 'campaign_not_found');

  const answer = async (projectId: string, source: StatsSource | undefined, q: Static<typeof Query>): Promise<Static<typeof Stats>> => {
    const granularity = q.granularity ?? 'day';
    const to = q.to ? Date.parse(q.to) : hourFloor(clock.now()) + 3600_000;
    const from = q.from ? Date.parse(q.from) : to - 7 * dayMs;
    if (!(from < to)) throw new ApiError('invalid_field', 'querystring.from must be before querystring.to');
    if (to - from > maxDays[granularity] * dayMs) {
      throw new ApiError('invalid_field', `querystring: a range of at most ${maxDays[granularity]} days by ${granularity}`);
    }
    const zone = q.time_zone === 'UTC' ? 'UTC' : (await projectSettings(deps.sql, projectId))?.timezone ?? 'UTC';
    const rows: StatsBucket[] = await store.buckets({ projectId, source, from: new Date(from), to: new Date(to), granularity, timeZone: zone });
    const variants = [...new Set(rows.map((r) => r.variant))].sort();
    // Buckets of one start (a variant, a channel each) share its label: formatted once per start.
    const labels = new Map<number, string>();
    const labelOf = (start: Date) => {
      const ms = start.getTime();
      let l = labels.get(ms);
      if (l === undefined) labels.set(ms, (l = bucketLabel(zone, ms, granularity)));
      return l;
    };
    return {
      source: { kind: source?.kind ?? 'project', id: source?.id ?? null },
      from: new Date(from).toISOString(), to: new Date(to).toISOString(), granularity, time_zone: zone,
      totals: metricsOf(rows),
      variants: variants.map((v) => ({ variant: v, ...metricsOf(rows.filter((r) => r.variant === v)) })),
      buckets: rows.map((r) => ({
        // A bucket's own counters as they are, in one object: a project's month by hour is
        // thousands of buckets, so nothing is summed or copied twice per bucket.
        start: r.start.toISOString(), local: labelOf(r.start), variant: r.variant, channel: r.channel,
        ...r.counters, skipped_by_reason: r.skippedByReason, ...ratesOf(r.counters),
      })),
    };
  };

  const description = 'Counters from the hourly rollups, written with each outcome and engagement (docs/analytics.md defines every metric). '
    + 'Rates are over sent; null when nothing was sent.';

  app.get('/v1/stats/project', {
    config: { auth: 'rest' },
    schema: { summary: 'The whole project\'s stats', description, tags: ['stats'], querystring: Query, response: { 200: Stats, ...errors } },
    handler: async (req) => answer(req.caller.projectId, undefined, req.query),
  });

  app.get('/v1/stats/campaigns/:campaign_id', {
    config: { auth: 'rest' },
    schema: {
      summary: 'A campaign\'s stats, per variant', description, tags: ['stats'],
      params: Type.Object({ campaign_id: Type.String({ format: 'uuid' }) }), querystring: Query, response: { 200: Stats, ...errors },
    },
    handler: async (req) => {
      if (!(await getCampaign(deps.sql, req.caller.projectId, req.params.campaign_id))) {
        throw new ApiError('campaign_not_found', 'no campaign with this id in this project');
      }
      return answer(req.caller.projectId, { kind: 'campaign', id: req.params.campaign_id }, req.query);
    },
  });

  app.get('/v1/stats/transactional/:group_id', {
    config: { auth: 'rest' },
    schema: {
      summary: 'A transactional group\'s stats (the group_id of POST /v1/transactional/send)', description, tags: ['stats'],
      params: Type.Object({ group_id: Type.String({ pattern: '^[A-Za-z0-9_-]{1,128}$' }) }), querystring: Query, response: { 200: Stats, ...errors },
    },
    handler: async (req) => answer(req.caller.projectId, { kind: 'transactional', id: req.params.group_id }, req.query),
  });
};
