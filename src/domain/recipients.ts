/**
 * Who a message reaches, and who it skips and why: a pure decision over the rows the fan-out loads
 * in bulk (store/deliveries.ts). One target per channel address: a device token, a browser's
 * subscription, an email address, a phone number. A target Herald will not send to is kept with its reason (a `skipped` or
 * `invalidated` delivery), never dropped silently. Campaigns will feed the same function with
 * their audience's pages.
 */
import { contentParts, targetKindOf, type ContentPart, type RecipientPlatform, type TargetKind } from './channels.js';

/** Whom a message names, as the send API takes it. */
export interface Recipients {
  custom_ids?: string[] | undefined;
  install_ids?: string[] | undefined;
  tokens?: { platform: 'ios' | 'android'; token: string }[] | undefined;
  emails?: string[] | undefined;
  phones?: string[] | undefined;
}

/** Which parts of content the message carries: a channel without its part reaches nobody. */
export type MessageChannels = Record<ContentPart, boolean>;

/** The rows of one project that the fan-out loaded for a message's recipients. */
export interface RecipientRows {
  /** Installations with a push token named by the message's custom_ids or install_ids. */
  installations: readonly { install_id: string; custom_id: string | null; platform: RecipientPlatform; token: string; apns_environment: string | null }[];
  /** Tokens a provider declared dead, as `platform:token`. */
  invalidated: ReadonlySet<string>;
  /** Profiles named by the message's custom_ids. */
  profiles: readonly { custom_id: string; email: string | null; email_subscription: string | null; phone: string | null; sms_subscription: string | null }[];
  /** Suppressed addresses (lower-case) and the reason each was suppressed. */
  suppressions: ReadonlyMap<string, string>;
  /** Numbers that texted STOP. */
  optedOut: ReadonlySet<string>;
}

export interface Target {
  platform: RecipientPlatform;
  /** What the delivery is sent to: a device token, a subscription's endpoint, an email address or a phone number. */
  target: string;
  target_kind: TargetKind;
  install_id: string | null;
  env: string | null;
  /** The profile the target was found through (null: named by token, address or number alone). */
  custom_id: string | null;
  /** Why Herald will not send to it, when it will not. */
  skip?: string | undefined;
  /** The status that records a skip: `skipped`, or `invalidated` for a token a provider declared dead. */
  skipStatus?: 'skipped' | 'invalidated' | undefined;
}

export const skipReasons = {
  invalidated: 'token was invalidated by the provider earlier',
  suppressed: (why: string) => `suppressed: ${why}`,
  emailUnsubscribed: 'the profile unsubscribed from email',
  optedOut: 'the number opted out (STOP)',
  smsUnsubscribed: 'the profile unsubscribed from SMS',
} as const;

/** What the fan-out loads first for a message's recipients, before the lookups that depend on it. */
export type FoundRows = Pick<RecipientRows, 'installations' | 'profiles'>;

/**
 * The rows one part's targets are decided from, as the keys the fan-out looks up in each table:
 * first from the message's recipients (installations, profiles), then from what those found
 * (invalidated tokens, suppressed addresses, opted-out numbers). The fan-out gathers every part's
 * keys of a batch and reads each table once (store/recipient-rows.ts).
 */
export interface RowKeys {
  installations?(r: Recipients): { custom_ids: readonly string[]; install_ids: readonly string[] };
  profiles?(r: Recipients): readonly string[];
  invalidated?(r: Recipients, found: FoundRows): string[];
  suppressions?(r: Recipients, found: FoundRows): string[];
  optedOut?(r: Recipients, found: FoundRows): string[];
}

export interface PartRecipients {
  /** The recipient lists only this part reaches (custom_ids reach every part): a send that names one needs this part. */
  lists: readonly (keyof Recipients)[];
  rows: RowKeys;
  targets(r: Recipients, rows: RecipientRows): Target[];
}

/** The message's targets on every channel it has content for, part by part. */
export function decideTargets(r: Recipients, channels: MessageChannels, rows: RecipientRows): Target[] {
  return contentParts.flatMap((part) => (channels[part] ? partRecipients[part].targets(r, rows) : []));
}

/** Devices: explicit tokens, and the installations named by custom_id or install_id; one per token. */
function pushTargets(r: Recipients, rows: RecipientRows): Target[] {
  const customIds = new Set(r.custom_ids ?? []);
  const installIds = new Set(r.install_ids ?? []);
  const byToken = new Map<string, Target>();
  for (const t of r.tokens ?? []) {
    byToken.set(t.platform + ':' + t.token, { platform: t.platform, target: t.token, target_kind: targetKindOf(t.platform), install_id: null, env: null, custom_id: null });
  }
  for (const i of rows.installations) {
    if (!installIds.has(i.install_id) && !(i.custom_id !== null && customIds.has(i.custom_id))) continue;
    byToken.set(i.platform + ':' + i.token, {
      platform: i.platform, target: i.token, target_kind: targetKindOf(i.platform), install_id: i.install_id, env: i.apns_environment, custom_id: i.custom_id,
    });
  }
  const targets = [...byToken.values()];
  for (const t of targets) {
    if (rows.invalidated.has(t.platform + ':' + t.target)) Object.assign(t, { skip: skipReasons.invalidated, skipStatus: 'invalidated' });
  }
  return targets;
}

/** Addresses: the profiles' and explicit ones, lower-cased, once each; suppressed or unsubscribed ones skipped. */
function emailTargets(r: Recipients, rows: RecipientRows): Target[] {
  const profiles = namedProfiles(r, rows).flatMap((p) => (p.email ? [{ email: p.email.toLowerCase(), unsubscribed: p.email_subscription === 'unsubscribed', custom_id: p.custom_id }] : []));
  const unsubscribed = new Set(profiles.filter((p) => p.unsubscribed).map((p) => p.email));
  const owner = firstOwner(profiles.map((p) => [p.email, p.custom_id]));
  const addresses = [...new Set([...profiles.map((p) => p.email), ...(r.emails ?? []).map((e) => e.toLowerCase())])];
  return addresses.map((a) => {
    const suppressed = rows.suppressions.get(a);
    return {
      platform: 'email', target: a, target_kind: 'address', install_id: null, env: null, custom_id: owner.get(a) ?? null,
      skip: suppressed !== undefined ? skipReasons.suppressed(suppressed) : unsubscribed.has(a) ? skipReasons.emailUnsubscribed : undefined,
    };
  });
}

/** Numbers: the profiles' and explicit ones, once each; opted-out or unsubscribed ones skipped. */
function smsTargets(r: Recipients, rows: RecipientRows): Target[] {
  const profiles = namedProfiles(r, rows).flatMap((p) => (p.phone ? [{ phone: p.phone, unsubscribed: p.sms_subscription === 'unsubscribed', custom_id: p.custom_id }] : []));
  const unsubscribed = new Set(profiles.filter((p) => p.unsubscribed).map((p) => p.phone));
  const owner = firstOwner(profiles.map((p) => [p.phone, p.custom_id]));
  const phones = [...new Set([...profiles.map((p) => p.phone), ...(r.phones ?? [])])];
  return phones.map((p) => ({
    platform: 'sms', target: p, target_kind: 'number', install_id: null, env: null, custom_id: owner.get(p) ?? null,
    skip: rows.optedOut.has(p) ? skipReasons.optedOut : unsubscribed.has(p) ? skipReasons.smsUnsubscribed : undefined,
  }));
}

/** Whom each content part reaches, from which rows. */
export const partRecipients: Record<ContentPart, PartRecipients> = {
  push: {
    lists: ['tokens', 'install_ids'],
    rows: {
      installations: (r) => ({ custom_ids: r.custom_ids ?? [], install_ids: r.install_ids ?? [] }),
      invalidated: (r, found) => [...(r.tokens ?? []).map((t) => t.token), ...found.installations.map((i) => i.token)],
    },
    targets: pushTargets,
  },
  email: {
    lists: ['emails'],
    rows: {
      profiles: (r) => r.custom_ids ?? [],
      suppressions: (r, found) => [
        ...namedProfiles(r, found).flatMap((p) => (p.email ? [p.email] : [])), ...(r.emails ?? []),
      ].map((a) => a.toLowerCase()),
    },
    targets: emailTargets,
  },
  sms: {
    lists: ['phones'],
    rows: {
      profiles: (r) => r.custom_ids ?? [],
      optedOut: (r, found) => [...namedProfiles(r, found).flatMap((p) => (p.phone ? [p.phone] : [])), ...(r.phones ?? [])],
    },
    targets: smsTargets,
  },
};

/** Profiles sharing an address or number get one delivery: it is counted for the first of them in custom_id order. */
function firstOwner(pairs: [string, string][]): Map<string, string> {
  const owner = new Map<string, string>();
  for (const [target, customId] of pairs) {
    const had = owner.get(target);
    if (had === undefined || customId < had) owner.set(target, customId);
  }
  return owner;
}

function namedProfiles(r: Recipients, rows: Pick<RecipientRows, 'profiles'>): RecipientRows['profiles'] {
  const ids = new Set(r.custom_ids ?? []);
  return rows.profiles.filter((p) => ids.has(p.custom_id));
}
