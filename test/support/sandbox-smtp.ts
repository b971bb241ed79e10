/**
 * Helpers for the SMTP simulator's tests and the email sender's: a simulator with its own stores,
 * the account that logs in to it, and an independent DKIM check of what it recorded. Test-only;
 * nothing in src/ but tests imports it.
 */
import { createPublicKey } from 'node:crypto';
import { dkimVerify } from 'mailauth';
import { silentLogger } from '../../src/observability/logger.js';
import { createEmailCredentials, createTlsIdentity, type EmailCredentials } from '../../src/sandbox/credentials.js';
import { createDeliveryRecords, type DeliveryRecords, type ListedRecord } from '../../src/sandbox/records.js';
import { createFaults, type Faults } from '../../src/sandbox/faults.js';
import { startSmtpSimulator, type SmtpSimulator } from '../../src/sandbox/smtp.js';
import { sandboxSmtpAccount } from '../../src/providers/email/sandbox-account.js';
import type { SmtpAccount } from '../../src/providers/email/client.js';

export interface SmtpTestSandbox {
  sim: SmtpSimulator;
  records: DeliveryRecords;
  faults: Faults;
  credentials: EmailCredentials;
  caPem: string;
  /** The account that logs in to the simulator and signs with the issued key. */
  account: SmtpAccount;
  close(): Promise<void>;
}

export async function startSmtpTestSandbox(o: { maxMessageBytes?: number } = {}): Promise<SmtpTestSandbox> {
  const tls = await createTlsIdentity('127.0.0.1');
  const records = createDeliveryRecords();
  const faults = createFaults();
  const credentials = createEmailCredentials();
  const sim = await startSmtpSimulator({
    host: '127.0.0.1', tls, records, faults, clock: Date.now, log: silentLogger(), credentials, maxMessageBytes: o.maxMessageBytes,
  });
  const account = sandboxSmtpAccount({
    endpoints: { email: sim.url },
    credentials: { email: { username: credentials.username, password: credentials.password, dkim: credentials.dkim } },
  });
  return { sim, records, faults, credentials, caPem: tls.certPem, account, close: () => sim.close() };
}

/** Every record of one RCPT TO address, refused ones included unless told otherwise. */
export function emailRecordsOf(sb: SmtpTestSandbox, target: string, includeRejected = true): ListedRecord[] {
  return sb.records.list({ channel: 'email', target, limit: 10_000, includeRejected });
}

/**
 * Verifies a recorded message's DKIM signature with mailauth, the public key derived here from the
 * issued private key (not from the simulator's own TXT record), so the check does not trust the
 * code it tests.
 */
export async function verifyDkim(credentials: { dkim: EmailCredentials['dkim'] }, raw: Buffer) {
  const spki = createPublicKey(credentials.dkim.private_key_pem).export({ type: 'spki', format: 'der' }).toString('base64');
  const name = `${credentials.dkim.selector}._domainkey.${credentials.dkim.domain}`;
  return dkimVerify(raw, {
    resolver: async (n: string, rrtype: string) => {
      if (rrtype === 'TXT' && n.toLowerCase() === name) return [[`v=DKIM1; k=rsa; p=${spki}`]];
      throw Object.assign(new Error('not found'), { code: 'ENOTFOUND' });
    },
  });
}

let addressCount = 0;
/** A fresh recipient address, distinct per call so each test finds its own records. */
export function recipient(prefix = 'user'): string {
  addressCount++;
  return `${prefix}${addressCount}.${Math.floor(Math.random() * 2 ** 32).toString(36)}@example.com`;
}
