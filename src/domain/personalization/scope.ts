/**
 * What a template sees of one recipient. Profile attributes are top-level names, as written
 * (`{{ first_name | default: "there" }}`); the native fields sit under `profile`
 * (`{{ profile.language }}`, `{{ profile.custom_id }}`); the event that started an automation
 * under `event` (`{{ event.attributes.sku }}`). `profile` and `event` are reserved: an attribute
 * of either name is reachable only as `attributes.profile` / `attributes.event`. Every attribute
 * is also under `attributes`, for names a template wants to spell out.
 */
import type { AttributeDocument, StoredValue } from '../profile-operations.js';

export interface ScopeProfile {
  customId: string | null;
  language?: string | null;
  region?: string | null;
  timezone?: string | null;
  email?: string | null;
  phone?: string | null;
  attributes: AttributeDocument;
}

export interface ScopeEvent {
  name: string;
  /** ISO-8601. */
  time: string;
  attributes: Record<string, unknown>;
}

/** Typed attributes as a template prints them: dates and URLs as their ISO / URL text. */
function plain(v: StoredValue): string | number | boolean | string[] {
  if (typeof v === 'object' && !Array.isArray(v)) return '$date' in v ? v.$date : v.$url;
  return v;
}

export function personalizationScope(p: ScopeProfile, event?: ScopeEvent): Record<string, unknown> {
  const attributes: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(p.attributes)) attributes[k] = plain(v);
  return {
    ...attributes,
    attributes,
    profile: {
      custom_id: p.customId,
      language: p.language ?? null,
      region: p.region ?? null,
      timezone: p.timezone ?? null,
      email: p.email ?? null,
      phone: p.phone ?? null,
    },
    ...(event ? { event } : {}),
  };
}
