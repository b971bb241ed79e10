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
  /**
   * Where the in-app messages' chunk is (herald-in-app.js, loaded after init). Default: beside
   * herald.js. Set it when you bundle herald.js into your own code.
   */
  inAppUrl?: string;
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
  | { kind: 'installation'; id: string; body: InstallationBody }
  | ({ kind: 'in_app_event'; id: string } & InAppEventBody);

/** An impression, click or dismissal of an in-app message, as POST /v1/sdk/in-app/events takes it. */
export interface InAppEventBody {
  message_id: string;
  version: number;
  type: 'impression' | 'click' | 'dismiss';
  button_id?: string;
  time: string;
}

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

export type InAppFormat = 'modal' | 'banner' | 'fullscreen' | 'image' | 'html';

export interface InAppButton {
  id: string;
  label: string;
  /** `dismiss` closes the message (a dismissal); `url` is a click (with this button's id), then goes to `url`. */
  action: 'dismiss' | 'url';
  url?: string;
}

/** What a message shows, its texts already personalized by Herald for this user. */
export interface InAppContent {
  title?: string;
  body?: string;
  image_url?: string;
  /** Format html only: a whole document, shown in a sandboxed iframe. */
  html?: string;
  buttons?: InAppButton[];
  /** Format banner only. Default top. */
  position?: 'top' | 'bottom';
}

export type InAppTrigger =
  | { type: 'event'; event: string; where?: Record<string, unknown>[] }
  | { type: 'session_start' }
  | { type: 'asap' };

/** An in-app message this browser may show, as POST /v1/sdk/in-app/sync returns it. */
export interface InAppMessage {
  id: string;
  version: number;
  format: InAppFormat;
  content: InAppContent;
  trigger: InAppTrigger;
  /** 0 to 100: of two messages waiting, the higher is shown first. */
  priority: number;
  ends_at: string | null;
  /** Herald is asked again (POST /v1/sdk/in-app/check) right before the message is shown. */
  recheck: boolean;
  capping: { max_displays?: number; min_interval_seconds?: number } | null;
}

/**
 * What an app that renders messages itself reports. The impression is recorded when the message is
 * handed over; `click` and `dismiss` each end the message (the next waiting one may then show).
 */
export interface InAppControls {
  /** A click on `buttonId` (or on the message itself): recorded, and the message ends. */
  click(buttonId?: string): Promise<void>;
  /** Closed by the user (a close or "Not now" button, Escape): recorded, and the message ends. */
  dismiss(): Promise<void>;
}

/** Replaces the default rendering; return `false` to decline the message (nothing is recorded). */
export type InAppListener = (message: InAppMessage, controls: InAppControls) => boolean | void;

/** What herald.js hands the in-app chunk (herald-in-app.js imports nothing: it gets these). */
export interface InAppHost {
  config: StoredConfig;
  installId(): Promise<string>;
  /** Writes an entry to the outbox (and wakes the sender); resolves once committed. */
  enqueue(item: OutboxItem): Promise<void>;
  /** Resolves once the outbox is empty: Herald then knows the installation and whom it is identified as. */
  idle(): Promise<void>;
  readMeta<T>(key: string): Promise<T | undefined>;
  writeMeta(key: string, value: unknown): Promise<void>;
  /** Read at every decision: the app may change them at any time. */
  state: { suppressed: boolean; listener: InAppListener | null };
}

/** What the in-app chunk gives herald.js back. */
export interface InAppEngine {
  /** Syncs again, after the outbox is empty (after identify or logout: the messages are the new user's). */
  sync(): void;
  /** An event just written to the outbox. */
  event(name: string, attributes: Record<string, unknown> | undefined): void;
  /** Shows what waits, if nothing is shown and messages are not suppressed. */
  next(): void;
}
