/** The SDK's public types, and the shapes it keeps in IndexedDB. */

/** What `Herald.init` takes. */
export interface HeraldOptions {
  /** The project's public SDK key (never the secret REST key). */
  sdkKey: string;
  /** Herald's base URL, e.g. `https://push.example.com`. */
  endpoint: string;
  /** The service worker script, on this page's origin. Default `/herald-sw.js`. */
  serviceWorkerUrl?: string;
  /** The service worker's scope. Default `/`. */
  serviceWorkerScope?: string;
  /** Your site's version, stored on the installation. */
  appVersion?: string;
  /** The most entries the outbox keeps; past it the oldest are dropped and counted. Default 1000. */
  outboxLimit?: number;
  /** The first retry waits up to this long (full jitter). Default 1000 ms. */
  retryBaseMs?: number;
  /** No retry waits longer than this. Default 30000 ms. */
  retryCapMs?: number;
}

export type AttributeValue = string | number | boolean | string[] | null;

/** One change to the profile's attributes, as POST /v1/sdk/attributes takes it. */
export interface AttributeEdit {
  set?: Record<string, AttributeValue>;
  unset?: string[];
  /** Values added to array attributes. */
  add?: Record<string, string[]>;
  /** Values removed from array attributes. */
  remove?: Record<string, string[]>;
}

export type EventAttributes = Record<string, unknown>;

/** What `Herald.identify` takes besides the custom id. */
export interface IdentifyOptions {
  /**
   * The HMAC-SHA256 (hex) of the custom id under the project's identity secret, made by your server
   * (docs/profiles.md). Herald refuses identify, and later changes of the identified profile, without it.
   */
  identityToken?: string;
}

/** The configuration the page stores for the service worker. */
export interface StoredConfig {
  sdkKey: string;
  endpoint: string;
  retryBaseMs: number;
  retryCapMs: number;
  outboxLimit: number;
}

/** What one outbox entry asks the server to do. Every entry carries its own client id. */
export type OutboxItem =
  | { kind: 'event'; id: string; name: string; time: string; attributes?: EventAttributes }
  | { kind: 'push_event'; id: string; type: 'received' | 'opened'; message_id?: string; delivery_id?: string; time: string }
  | ({ kind: 'attributes'; id: string; time: string; identity_token?: string } & AttributeEdit)
  | { kind: 'identify'; id: string; custom_id: string; identity_token?: string }
  | { kind: 'logout'; id: string; identity_token?: string }
  | { kind: 'installation'; id: string; body: InstallationBody };

export interface InstallationBody {
  platform: 'web';
  custom_id?: string | null;
  identity_token?: string;
  language?: string;
  timezone?: string;
  app_version?: string;
  /** This SDK's version (the package's), so campaigns can target installations by it. */
  sdk_version?: string;
  web_push_subscription?: { endpoint: string; keys: { p256dh: string; auth: string } };
}

/** One item of the inbox, as Herald keeps it (docs/inbox.md). */
export interface InboxItem {
  /** The message's id: one item per message per inbox. */
  id: string;
  created_at: string;
  title: string;
  body: string;
  deeplink: string | null;
  data: Record<string, unknown> | null;
  read_at: string | null;
  opened_at: string | null;
  archived_at: string | null;
}

/** A page of the inbox, newest first, with the exact unread count of the whole inbox. */
export interface InboxPage {
  items: InboxItem[];
  unread: number;
  /** Pass it as `cursor` for the next page; null on the last one. */
  nextCursor: string | null;
}

export type InboxAction = 'read' | 'opened' | 'archived' | 'unarchived';
