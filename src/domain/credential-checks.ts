/**
 * Checks what a project hands in as provider credentials, before anything is stored: keys must parse
 * as the kind of key the provider verifies against, and pairs must match. Each check returns the
 * normalised credentials (keys re-exported as PKCS#8 PEM) or throws a CredentialProblem whose code
 * names the problem. No message ever quotes the secret, nor the parser's error about it.
 */
import { createECDH, createPrivateKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import type {
  ApnsCredentials, ApnsCredentialsInput, FcmCredentials, FcmCredentialsInput, SmsCredentials, SmsCredentialsInput,
  SmtpCredentials, SmtpCredentialsInput, WebPushCredentials, WebPushCredentialsInput,
} from './provider-credentials.js';

export type CredentialProblemCode =
  | 'invalid_apns_key' | 'invalid_service_account' | 'invalid_vapid_keys' | 'invalid_dkim_key' | 'invalid_field';

export class CredentialProblem extends Error {
  constructor(readonly code: CredentialProblemCode, message: string) {
    super(message);
  }
}

export const twilioBaseUrl = 'https://api.twilio.com';

function privateKeyOf(pem: string, code: CredentialProblemCode, what: string): KeyObject {
  try {
    const key = createPrivateKey(pem);
    if (key.type !== 'private') throw new Error('not private');
    return key;
  } catch {
    throw new CredentialProblem(code, `${what} is not a readable PEM private key`);
  }
}

const pkcs8 = (key: KeyObject): string => key.export({ type: 'pkcs8', format: 'pem' }).toString();

/** The .p8 must be an EC P-256 private key: APNs verifies ES256 only (https://developer.apple.com/documentation/usernotifications/establishing-a-token-based-connection-to-apns). */
export function checkApns(i: ApnsCredentialsInput): ApnsCredentials {
  const key = privateKeyOf(i.private_key_pem, 'invalid_apns_key', 'private_key_pem');
  if (key.asymmetricKeyType !== 'ec' || key.asymmetricKeyDetails?.namedCurve !== 'prime256v1') {
    throw new CredentialProblem('invalid_apns_key', 'private_key_pem is not an EC P-256 key; APNs signs with ES256 only (use the .p8 file)');
  }
  return { team_id: i.team_id, key_id: i.key_id, private_key_pem: pkcs8(key), topic: i.topic,
    ...(i.environment ? { environment: i.environment } : {}) };
}

/** A service-account key file: its RSA key signs the RS256 grant assertion (https://developers.google.com/identity/protocols/oauth2/service-account). */
export function checkFcm(i: FcmCredentialsInput): FcmCredentials {
  const s = i.service_account;
  if (s.type !== 'service_account') {
    throw new CredentialProblem('invalid_service_account', 'service_account.type must be "service_account": upload the service account\'s JSON key file');
  }
  const key = privateKeyOf(s.private_key, 'invalid_service_account', 'service_account.private_key');
  if (key.asymmetricKeyType !== 'rsa' || (key.asymmetricKeyDetails?.modulusLength ?? 0) < 2048) {
    throw new CredentialProblem('invalid_service_account', 'service_account.private_key is not an RSA key of 2048 bits or more');
  }
  return {
    service_account: {
      type: 'service_account', project_id: s.project_id, private_key_id: s.private_key_id, private_key: pkcs8(key),
      client_email: s.client_email, token_uri: s.token_uri,
    },
  };
}

/** 0x04 ‖ X ‖ Y of the P-256 private scalar `d`, computed (not read from the key file). */
function publicPointOf(d: Buffer): Buffer {
  const ecdh = createECDH('prime256v1');
  ecdh.setPrivateKey(d);
  return ecdh.getPublicKey(null, 'uncompressed');
}

/** A new VAPID pair: the base64url public point browsers subscribe with, and the PKCS#8 PEM. */
export function generateVapidKeyPair(): { public_key: string; private_key_pem: string } {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const d = Buffer.from(privateKey.export({ format: 'jwk' }).d!, 'base64url');
  return { public_key: publicPointOf(d).toString('base64url'), private_key_pem: pkcs8(privateKey) };
}

function vapidPrivateKey(text: string): KeyObject {
  if (/^[A-Za-z0-9_-]{42,43}$/.test(text.trim())) {
    // The web-push library's form: the raw 32-byte scalar. Its public point comes from it. Node's
    // ECDH.getPrivateKey() drops leading zero bytes (1 key in 256 comes out as 31 bytes): pad back.
    const raw = Buffer.from(text.trim(), 'base64url');
    const d = Buffer.concat([Buffer.alloc(Math.max(0, 32 - raw.length)), raw]);
    try {
      const pub = publicPointOf(d);
      return createPrivateKey({ key: { kty: 'EC', crv: 'P-256', d: d.toString('base64url'),
        x: pub.subarray(1, 33).toString('base64url'), y: pub.subarray(33).toString('base64url') }, format: 'jwk' });
    } catch {
      throw new CredentialProblem('invalid_vapid_keys', 'private_key is not a P-256 private key');
    }
  }
  return privateKeyOf(text, 'invalid_vapid_keys', 'private_key');
}

/**
 * The project's VAPID identity: a given pair must be P-256 halves of one key (a mismatch would be
 * refused by every push service for every subscription); without one the current pair is kept.
 */
export function checkWebPush(i: WebPushCredentialsInput, current: WebPushCredentials): WebPushCredentials {
  if ((i.public_key === undefined) !== (i.private_key === undefined)) {
    throw new CredentialProblem('invalid_field', 'public_key and private_key come together: give both, or neither to keep the project\'s pair');
  }
  if (i.public_key === undefined || i.private_key === undefined) return { ...current, subject: i.subject };
  const key = vapidPrivateKey(i.private_key);
  const jwk = key.export({ format: 'jwk' });
  if (key.asymmetricKeyType !== 'ec' || jwk.crv !== 'P-256' || !jwk.d) {
    throw new CredentialProblem('invalid_vapid_keys', 'private_key is not a P-256 private key (RFC 8292 §3.2)');
  }
  const derived = publicPointOf(Buffer.from(jwk.d, 'base64url')).toString('base64url');
  if (derived !== i.public_key) {
    throw new CredentialProblem('invalid_vapid_keys', 'public_key is not the public half of private_key');
  }
  return { subject: i.subject, public_key: derived, private_key_pem: pkcs8(key) };
}

/** SMTP settings whose keys parse; whether the server answers is checked apart (it is I/O). */
export function checkSmtp(i: SmtpCredentialsInput): SmtpCredentials {
  if ((i.username === undefined) !== (i.password === undefined)) {
    throw new CredentialProblem('invalid_field', 'username and password come together: give both, or neither for a relay without login');
  }
  let dkim: SmtpCredentials['dkim'];
  if (i.dkim) {
    const key = privateKeyOf(i.dkim.private_key_pem, 'invalid_dkim_key', 'dkim.private_key_pem');
    if (key.asymmetricKeyType !== 'rsa' || (key.asymmetricKeyDetails?.modulusLength ?? 0) < 1024) {
      // RFC 8301 §3.2: signers MUST use RSA keys of at least 1024 bits.
      throw new CredentialProblem('invalid_dkim_key', 'dkim.private_key_pem is not an RSA key of 1024 bits or more (RFC 8301)');
    }
    dkim = { domain: i.dkim.domain.toLowerCase(), selector: i.dkim.selector, private_key_pem: pkcs8(key) };
  }
  return {
    host: i.host, port: i.port, security: i.security ?? 'starttls',
    ...(i.username !== undefined ? { username: i.username, password: i.password } : {}),
    from: i.from.map((f) => ({ ...(f.name ? { name: f.name } : {}), address: f.address })),
    ...(dkim ? { dkim } : {}),
  };
}

/**
 * Twilio's account SIDs are AC + 32 hex (https://www.twilio.com/docs/glossary/what-is-a-sid); a compatible provider (base_url) has
 * its own shape. The auth token travels in every request, so base_url is https, never plain http,
 * not even to this machine: the sender speaks TLS only.
 */
export function checkSms(i: SmsCredentialsInput): SmsCredentials {
  let base = twilioBaseUrl;
  if (i.base_url !== undefined) {
    let url: URL;
    try { url = new URL(i.base_url); } catch { throw new CredentialProblem('invalid_field', 'base_url is not a URL'); }
    if (url.protocol !== 'https:') {
      throw new CredentialProblem('invalid_field', 'base_url must be https: the auth token is sent with every request');
    }
    base = url.origin + url.pathname.replace(/\/$/, '');
  } else if (!/^AC[0-9a-fA-F]{32}$/.test(i.account_sid)) {
    throw new CredentialProblem('invalid_field', 'account_sid must be a Twilio Account SID: AC followed by 32 hex digits');
  }
  if (i.from === undefined && i.messaging_service_sid === undefined) {
    throw new CredentialProblem('invalid_field', 'give from (a number or sender id) or messaging_service_sid');
  }
  return {
    account_sid: i.account_sid, auth_token: i.auth_token, base_url: base,
    ...(i.from !== undefined ? { from: i.from } : {}),
    ...(i.messaging_service_sid !== undefined ? { messaging_service_sid: i.messaging_service_sid } : {}),
  };
}
