/**
 * Provider credentials of a project, in one place: what `PUT /v1/providers/{provider}` accepts
 * (`…Input`), what is sealed and handed to the worker once checked and normalised (`…Credentials`),
 * and the summary that may be shown (ids, hosts, public keys, keyed fingerprints of the secrets).
 */

export const providers = ['apns', 'fcm', 'webpush', 'smtp', 'sms'] as const;
export type Provider = (typeof providers)[number];

export function isProvider(p: string): p is Provider {
  return (providers as readonly string[]).includes(p);
}

// ---- accepted by the API ---------------------------------------------------------------------

export interface ApnsCredentialsInput {
  /** Apple's 10-character Team ID (https://developer.apple.com/documentation/usernotifications/establishing-a-token-based-connection-to-apns). */
  team_id: string;
  /** The 10-character Key ID of the .p8 key. */
  key_id: string;
  /** The .p8 file: an EC P-256 private key, PKCS#8 PEM. */
  private_key_pem: string;
  /** The app's bundle id, sent as apns-topic. */
  topic: string;
  /** Where installations without their own apns_environment are sent. */
  environment?: 'production' | 'sandbox' | undefined;
}

/** A Google service-account key file as downloaded; fields Herald does not need are dropped. */
export interface FcmServiceAccountInput {
  type: string;
  project_id: string;
  private_key_id: string;
  private_key: string;
  client_email: string;
  token_uri: string;
  [other: string]: unknown;
}

export interface FcmCredentialsInput {
  service_account: FcmServiceAccountInput;
}

export interface WebPushCredentialsInput {
  /** A `mailto:` or `https:` contact for push services (RFC 8292 §2.1). */
  subject: string;
  /** An existing VAPID pair to adopt (browsers already subscribed with it); both or neither. */
  public_key?: string | undefined;
  /** PKCS#8 / SEC1 PEM, or the raw 32-byte scalar in base64url as the web-push library writes it. */
  private_key?: string | undefined;
}

export type SmtpSecurity = 'tls' | 'starttls' | 'none';

export interface EmailIdentity {
  name?: string | undefined;
  address: string;
}

export interface SmtpCredentialsInput {
  host: string;
  port: number;
  /** 'tls': TLS from the first byte (port 465); 'starttls': upgrade required (587); 'none': a local relay. */
  security?: SmtpSecurity | undefined;
  username?: string | undefined;
  password?: string | undefined;
  /** The identities messages may be sent from. */
  from: EmailIdentity[];
  dkim?: { domain: string; selector: string; private_key_pem: string } | undefined;
}

export interface SmsCredentialsInput {
  account_sid: string;
  auth_token: string;
  /** E.164 number or alphanumeric sender id; `from` or `messaging_service_sid` (https://www.twilio.com/docs/messaging/api/message-resource). */
  from?: string | undefined;
  messaging_service_sid?: string | undefined;
  /** A Twilio-compatible API's base URL; Twilio's when absent. */
  base_url?: string | undefined;
}

export interface CredentialsInputByProvider {
  apns: ApnsCredentialsInput;
  fcm: FcmCredentialsInput;
  webpush: WebPushCredentialsInput;
  smtp: SmtpCredentialsInput;
  sms: SmsCredentialsInput;
}

// ---- sealed, and handed to the worker ----------------------------------------------------------

export interface ApnsCredentials {
  team_id: string;
  key_id: string;
  /** Normalised to PKCS#8 PEM (what jose's importPKCS8 reads). */
  private_key_pem: string;
  topic: string;
  environment?: 'production' | 'sandbox' | undefined;
}

export interface FcmCredentials {
  service_account: {
    type: 'service_account';
    project_id: string;
    private_key_id: string;
    /** Normalised to PKCS#8 PEM. */
    private_key: string;
    client_email: string;
    token_uri: string;
  };
}

export interface WebPushCredentials {
  /** Absent until the project sets one with PUT /v1/providers/webpush. */
  subject?: string | undefined;
  /** 65-byte uncompressed P-256 point, base64url: the browsers' applicationServerKey. */
  public_key: string;
  /** PKCS#8 PEM. */
  private_key_pem: string;
}

export interface SmtpCredentials {
  host: string;
  port: number;
  security: SmtpSecurity;
  username?: string | undefined;
  password?: string | undefined;
  from: EmailIdentity[];
  dkim?: { domain: string; selector: string; private_key_pem: string } | undefined;
}

export interface SmsCredentials {
  account_sid: string;
  auth_token: string;
  from?: string | undefined;
  messaging_service_sid?: string | undefined;
  base_url: string;
}

export interface CredentialsByProvider {
  apns: ApnsCredentials;
  fcm: FcmCredentials;
  webpush: WebPushCredentials;
  smtp: SmtpCredentials;
  sms: SmsCredentials;
}

// ---- shown -----------------------------------------------------------------------------------

/** The non-secret parts, plus a keyed fingerprint per secret so a change can be recognised. */
export type CredentialsSummary = Record<string, unknown> & { fingerprints: Record<string, string> };

/** What may be shown of stored credentials. `fingerprint` is the keyring's keyed hash. */
export function summarize<P extends Provider>(provider: P, c: CredentialsByProvider[P], fingerprint: (s: string) => string): CredentialsSummary {
  switch (provider) {
    case 'apns': {
      const a = c as ApnsCredentials;
      return { team_id: a.team_id, key_id: a.key_id, topic: a.topic, environment: a.environment ?? null,
        fingerprints: { private_key_pem: fingerprint(a.private_key_pem) } };
    }
    case 'fcm': {
      const s = (c as FcmCredentials).service_account;
      return { project_id: s.project_id, client_email: s.client_email, private_key_id: s.private_key_id, token_uri: s.token_uri,
        fingerprints: { private_key: fingerprint(s.private_key) } };
    }
    case 'webpush': {
      const w = c as WebPushCredentials;
      return { subject: w.subject ?? null, public_key: w.public_key, fingerprints: { private_key: fingerprint(w.private_key_pem) } };
    }
    case 'smtp': {
      const m = c as SmtpCredentials;
      const fingerprints: Record<string, string> = {};
      if (m.password !== undefined) fingerprints.password = fingerprint(m.password);
      if (m.dkim) fingerprints.dkim_private_key_pem = fingerprint(m.dkim.private_key_pem);
      return { host: m.host, port: m.port, security: m.security, username: m.username ?? null, from: m.from,
        dkim: m.dkim ? { domain: m.dkim.domain, selector: m.dkim.selector } : null, fingerprints };
    }
    case 'sms': {
      const t = c as SmsCredentials;
      return { account_sid: t.account_sid, from: t.from ?? null, messaging_service_sid: t.messaging_service_sid ?? null,
        base_url: t.base_url, fingerprints: { auth_token: fingerprint(t.auth_token) } };
    }
    default:
      return assertNever(provider);
  }
}

function assertNever(x: never): never {
  throw new Error(`unknown provider ${String(x)}`);
}
