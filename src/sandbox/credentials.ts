/**
 * What the sandbox issues at start: a self-signed TLS certificate for its simulators and an APNs
 * signing key (docs/sandbox.md, GET /_sandbox/credentials and /_sandbox/ca.pem).
 * Fresh on every start, so nothing secret is ever shipped or stored.
 */
import { generateKeyPairSync, randomBytes, randomInt, type KeyObject } from 'node:crypto';
import { isIP } from 'node:net';
// selfsigned builds on @peculiar/x509, whose schemas must all come from one copy of
// @peculiar/asn1-schema and @peculiar/asn1-x509. package.json depends on both (^2.11) only so that
// a fresh `npm install` of Herald hoists those: otherwise mailauth's exact 2.6 pins went to the top,
// x509 took them while its asn1-cms got nested 2.11 copies, and certificate generation failed with
// "Cannot get schema for 'AlgorithmIdentifier' target" (test/package-install.test.ts).
import { generate } from 'selfsigned';

export interface TlsIdentity {
  keyPem: string;
  certPem: string;
}

/**
 * The certificate names what a client may dial: 127.0.0.1, ::1 and localhost, plus the configured
 * host when it is another name or address. Node verifies IP addresses against IP SANs and names
 * against DNS SANs, so both kinds are needed for `ca: caPem` to pass verification.
 */
export async function createTlsIdentity(host: string): Promise<TlsIdentity> {
  const altNames: { type: 2 | 7; value?: string; ip?: string }[] = [
    { type: 2, value: 'localhost' }, { type: 7, ip: '127.0.0.1' }, { type: 7, ip: '::1' },
  ];
  if (isIP(host) && !['127.0.0.1', '::1', '0.0.0.0', '::'].includes(host)) altNames.push({ type: 7, ip: host });
  else if (!isIP(host) && host !== 'localhost' && host !== '') altNames.push({ type: 2, value: host });
  const now = Date.now(); // real time: TLS clients check a certificate's validity against the OS clock
  const pems = await generate([{ name: 'commonName', value: 'Herald sandbox' }], {
    // P-256 keys are generated in milliseconds (RSA 2048 takes ~100 ms or more) and are fine for TLS 1.2+.
    keyType: 'ec',
    curve: 'P-256',
    algorithm: 'sha256',
    // Back-dated an hour so a client whose clock is a little behind still accepts it.
    notBeforeDate: new Date(now - 3_600_000),
    notAfterDate: new Date(now + 365 * 86_400_000),
    extensions: [
      { name: 'basicConstraints', cA: false },
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true },
      { name: 'extKeyUsage', serverAuth: true },
      { name: 'subjectAltName', altNames },
    ],
  });
  return { keyPem: pems.private, certPem: pems.cert };
}

export interface ApnsSigningKey {
  team_id: string;
  key_id: string;
  /** PKCS#8 PEM, the format of Apple's .p8 files (https://developer.apple.com/documentation/usernotifications/establishing-a-token-based-connection-to-apns). */
  private_key_pem: string;
  topic: string;
  publicKey: KeyObject;
}

/** The bundle id the simulator accepts as apns-topic. */
export const sandboxTopic = 'com.example.app';

/** Apple's Key IDs and Team IDs are 10 characters, upper-case letters and digits (https://developer.apple.com/documentation/usernotifications/establishing-a-token-based-connection-to-apns). */
export function appleId(): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';
  let id = '';
  for (let i = 0; i < 10; i++) id += alphabet[randomInt(alphabet.length)];
  return id;
}

/** An EC P-256 key pair as for APNs token auth: the simulator verifies ES256 JWTs against it. */
export function createApnsSigningKey(): ApnsSigningKey {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return {
    team_id: appleId(),
    key_id: appleId(),
    private_key_pem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    topic: sandboxTopic,
    publicKey,
  };
}

/** What the SMTP simulator issues: a submission login and a DKIM key for its mail domain. */
export interface EmailCredentials {
  username: string;
  password: string;
  dkim: { domain: string; selector: string; private_key_pem: string };
  /** The TXT record the simulator answers for `{selector}._domainkey.{domain}` (RFC 6376 §3.6.1). */
  dkimTxtRecord: string;
}

/** The mail domain the sandbox signs for: From addresses must be in it (DMARC alignment). .test is reserved (RFC 2606). */
export const sandboxMailDomain = 'sandbox.herald.test';

/**
 * RSA 2048: what RFC 8301 §3.2 asks of signers (1024 at the very least) and what nodemailer's
 * signer supports (RSA only). Made once per start, in about 100 ms.
 */
export function createEmailCredentials(): EmailCredentials {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return {
    username: `sandbox-${randomBytes(4).toString('hex')}`,
    password: randomBytes(18).toString('base64url'),
    dkim: {
      domain: sandboxMailDomain,
      selector: `herald${randomBytes(3).toString('hex')}`,
      private_key_pem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    },
    dkimTxtRecord: `v=DKIM1; k=rsa; p=${publicKey.export({ type: 'spki', format: 'der' }).toString('base64')}`,
  };
}
