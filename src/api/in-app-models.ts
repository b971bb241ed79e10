/**
 * In-app message versions parsed once per process (domain/in-app/definition.ts): a version never
 * changes, so the display check, on the hot path, reads only the message's status and the
 * device's profile from PostgreSQL, in one statement (store/in-app.ts#loadInAppViewer). An audience
 * naming saved segments is kept expanded for `segmentTtlMs` only, so a changed segment reaches
 * running messages within that time without a segment read on every check.
 */
import type { Sql } from 'postgres';
import { audienceEventNames, audienceNeeds, parseInAppDefinition, type InAppModel } from '../domain/in-app/definition.js';
import type { Query } from '../domain/targeting/query.js';
import { expandSegments, segmentIds } from '../domain/targeting/segments.js';
import { inAppVersion } from '../store/in-app.js';
import { segmentQueries } from '../store/segments.js';

export interface LoadedInAppVersion {
  model: InAppModel;
  /** The audience with saved segments in place (null: everyone). */
  audience: Query | null;
  /** The event names the expanded audience looks at. */
  eventNames: string[];
  /** Whether it looks at the profile's devices and custom audiences. */
  needs: { installations: boolean; audiences: boolean };
}

/** A segment's change reaches a running message's checks within this long. */
export const segmentTtlMs = 30_000;
const keep = 10_000;

export function inAppModels(sql: Sql, now: () => number) {
  const kept = new Map<string, { loaded: LoadedInAppVersion; until: number }>();

  return {
    /** The version, or undefined when this project has no such message or version. */
    async get(projectId: string, id: string, version: number): Promise<LoadedInAppVersion | undefined> {
      // The project is part of the key: one project's key can never reach another's message.
      const key = `${projectId}/${id}@${version}`;
      const hit = kept.get(key);
      if (hit && hit.until > now()) return hit.loaded;
      const definition = await inAppVersion(sql, projectId, id, version);
      if (definition === undefined) return undefined;
      const model = parseInAppDefinition(definition, 'definition');
      let audience = model.audience;
      let until = Infinity;
      if (audience && segmentIds(audience).length) {
        const saved = await segmentQueries(sql, projectId, audience);
        try {
          audience = expandSegments(audience, (s) => saved.get(s));
        } catch {
          // A segment deleted since creation: nobody matches until the message is changed.
          audience = { kind: 'any', of: [] };
        }
        until = now() + segmentTtlMs;
      }
      const loaded = { model, audience, eventNames: audienceEventNames(audience), needs: audienceNeeds(audience) };
      if (kept.size >= keep) kept.delete(kept.keys().next().value!);
      kept.set(key, { loaded, until });
      return loaded;
    },
  };
}

export type InAppModels = ReturnType<typeof inAppModels>;
