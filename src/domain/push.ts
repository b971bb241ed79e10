/** A push message as the API accepts it (plain data; validated at the API edge). */
export interface PushMessage {
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
