/** A push message as the API accepts it (plain data; validated at the API edge). */
export interface PushFields {
  title: string;
  body: string;
  deeplink?: string | undefined;
  data?: Record<string, unknown> | undefined;
  priority?: 'high' | 'normal' | undefined;
  ttl_seconds?: number | undefined;
  collapse_id?: string | undefined;
  badge?: number | undefined;
  sound?: string | undefined;
}

export const pushPlatforms = ['ios', 'android', 'web'] as const;
export type PushPlatform = (typeof pushPlatforms)[number];

/** The common fields, and per platform any of them changed for that platform's devices only. */
export interface PushMessage extends PushFields {
  /** Keep it in the recipients' inbox as well (store/inbox.ts); no provider sees it. */
  inbox?: boolean | undefined;
  ios?: Partial<PushFields> | undefined;
  android?: Partial<PushFields> | undefined;
  web?: Partial<PushFields> | undefined;
}

/**
 * What one platform's devices get: its override over the common fields. `data` merges key by key
 * (an override adds or replaces keys, it does not drop the common ones); every other field replaces.
 */
export function pushFor(push: PushMessage, platform: PushPlatform): PushFields {
  const { ios: _i, android: _a, web: _w, inbox: _inbox, ...base } = push;
  const over = push[platform];
  if (!over) return base;
  const merged: PushFields = { ...base, ...over };
  if (base.data || over.data) merged.data = { ...base.data, ...over.data };
  return merged;
}
