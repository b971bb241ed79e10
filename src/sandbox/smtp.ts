/**
 * The SMTP simulator: a submission server that answers as a strict receiving server does
 * (https://support.google.com/a/answer/14229414, RFC 8058, RFC 6376). STARTTLS with the
 * sandbox's certificate, AUTH PLAIN/LOGIN with the login the sandbox issued (only over TLS), then
 * for each message: DKIM verified with mailauth against the key the sandbox issued (its resolver
 * answers that one selector, no DNS), headers read with mailparser, and the rules of
 * smtp-checks.ts applied. A message that breaks one is refused with the reply a strict receiver
 * gives (550 5.7.26, 550 5.7.1…) and recorded as rejected.
 *
 * Records (records.ts): one per RCPT, target = the RCPT TO address, headers = the envelope
 * (`mail_from`, `rcpt_to`), body = the whole message as received, DKIM-Signature included. Fault
 * rules (faults.ts) match the RCPT TO address and answer at RCPT, or after DATA for the
 * message-level codes (552, 554), or drop the connection; or, with `dsn`, accept the message and
 * keep the delivery status notification a relay would send back later (smtp-dsn.ts).
 */
import { timingSafeEqual, createHash, randomBytes } from 'node:crypto';
import { SMTPServer, type SMTPServerDataStream, type SMTPServerSession } from 'smtp-server';
import { simpleParser } from 'mailparser';
import { dkimVerify } from 'mailauth';
import { urlHost } from './apns.js';
import type { EmailCredentials } from './credentials.js';
import type { DeliveryRecord } from './records.js';
import type { FaultRule } from './faults.js';
import { listenOnFreePort, type SimulatorContext } from './request-io.js';
import { buildDsn } from './smtp-dsn.js';
import { checkMessage, faultAnswersAtData, faultText, type DkimVerdict, type SmtpRefusal } from './smtp-checks.js';

export interface SmtpSimulatorOptions extends SimulatorContext {
  credentials: EmailCredentials;
  /** The SIZE the server announces and enforces (RFC 1870); larger messages get 552. */
  maxMessageBytes?: number | undefined;
}

export interface SmtpSimulator {
  /** smtp://host:port: plain SMTP with STARTTLS, as a submission port (587) speaks. */
  url: string;
  close(): Promise<void>;
}

/** 10 MiB: room for any notification; Gmail's 25 MB would let a test fill the sandbox's memory fast. */
export const defaultMaxMessageBytes = 10 * 1024 * 1024;
/** The reason a dropped RCPT is listed with, as in the HTTP simulators. */
export const droppedReason = 'ConnectionDropped';

/** A refusal as smtp-server sends it: the error's message is the reply text, responseCode its code. */
function smtpError(code: number, text: string): Error & { responseCode: number } {
  return Object.assign(new Error(text), { responseCode: code });
}

/** One RCPT of the transaction under way, with the DATA-time fault that answers it, if any. */
interface Pending {
  record: DeliveryRecord;
  dataFault: FaultRule | undefined;
  /** A `dsn` fault: the message is accepted, and its failure reported by a notification. */
  dsnFault?: FaultRule | undefined;
}

export async function startSmtpSimulator(o: SmtpSimulatorOptions): Promise<SmtpSimulator> {
  const c = o.credentials;
  const maxMessageBytes = o.maxMessageBytes ?? defaultMaxMessageBytes;
  const pendingBySession = new Map<string, Pending[]>();
  const timers = new Set<NodeJS.Timeout>();
  const keyName = `${c.dkim.selector}._domainkey.${c.dkim.domain}`.toLowerCase();
  // DNS TXT strings are at most 255 bytes (RFC 1035 §3.3.14); a 2048-bit key takes two, joined by the verifier.
  const txtStrings = c.dkimTxtRecord.match(/.{1,255}/g) ?? [];
  const digest = (s: string) => createHash('sha256').update(s).digest();
  const expected = { user: digest(c.username), pass: digest(c.password) };
  let queued = 0;
  const queueSuffix = randomBytes(4).toString('hex');

  const later = (ms: number, fn: () => void) => {
    if (ms === 0) return fn();
    const t = setTimeout(() => {
      timers.delete(t);
      fn();
    }, ms);
    timers.add(t);
  };

  const server: SMTPServer = new SMTPServer({
    secure: false,
    key: o.tls.keyPem,
    cert: o.tls.certPem,
    minVersion: 'TLSv1.2',
    name: c.dkim.domain,
    banner: 'Herald sandbox',
    authMethods: ['PLAIN', 'LOGIN'],
    authOptional: false,
    // AUTH only after STARTTLS: a client that would send the password in clear is refused (538/530).
    allowInsecureAuth: false,
    // Replies carry their RFC 3463 status in the text, written here, so smtp-server adds none.
    hideENHANCEDSTATUSCODES: true,
    size: maxMessageBytes,
    disableReverseLookup: true,
    logger: false,
    closeTimeout: 1_000,

    onAuth(auth, _session, callback) {
      // Both compared, in constant time, whatever the first gives: no hint which one was wrong.
      const user = timingSafeEqual(digest(auth.username ?? ''), expected.user);
      const pass = timingSafeEqual(digest(auth.password ?? ''), expected.pass);
      const ok = user && pass;
      if (!ok) return callback(smtpError(535, '5.7.8 Username and Password not accepted.'));
      callback(null, { user: auth.username });
    },

    onMailFrom(_address, session, callback) {
      // A new transaction: RCPTs of an abandoned one (RSET, or MAIL again) never get a message.
      pendingBySession.delete(session.id);
      callback();
    },

    onRcptTo(address, session, callback) {
      const target = address.address;
      const mailFrom = (session.envelope.mailFrom ? session.envelope.mailFrom.address : null) ?? '';
      const record = o.records.open('email', o.clock(), target, ['mail_from', mailFrom, 'rcpt_to', target]);
      const accept = (dataFault?: FaultRule, dsnFault?: FaultRule) => {
        const pending = pendingBySession.get(session.id) ?? [];
        pending.push({ record, dataFault, dsnFault });
        pendingBySession.set(session.id, pending);
        callback();
      };
      const rule = o.faults.match('email', target);
      if (!rule) return accept();
      later(rule.latency_ms, () => {
        if (rule.drop_connection) {
          record.status = null;
          record.reason = droppedReason;
          return dropConnection(session);
        }
        if (rule.status === null) return accept(); // latency only
        if (rule.dsn) return accept(undefined, rule); // accepted now, bounced later
        if (faultAnswersAtData(rule.status)) return accept(rule);
        const text = faultText(rule.status, rule.reason);
        record.status = rule.status;
        record.reason = text;
        callback(smtpError(rule.status, text));
      });
    },

    onData(stream: SMTPServerDataStream, session, callback) {
      const pending = pendingBySession.get(session.id) ?? [];
      pendingBySession.delete(session.id);
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('end', () => {
        const raw = Buffer.concat(chunks);
        for (const p of pending) p.record.body = raw;
        const answer = (refusal: SmtpRefusal | undefined) => {
          for (const p of pending) {
            p.record.status = refusal ? refusal.code : 250;
            p.record.reason = refusal ? refusal.text : null;
          }
          if (refusal) return callback(smtpError(refusal.code, refusal.text));
          for (const p of pending) {
            if (!p.dsnFault) continue;
            const code = p.dsnFault.status!;
            p.record.dsn = Buffer.from(buildDsn({
              reportingMta: c.dkim.domain, mailFrom: p.record.rawHeaders[1] ?? '', recipient: p.record.target,
              code, text: faultText(code, p.dsnFault.reason), original: raw, arrivalMs: p.record.receivedAtMs,
            }));
          }
          callback(null, `2.0.0 OK: queued as ${(queued++).toString(16).padStart(8, '0')}${queueSuffix}`);
        };
        if (stream.sizeExceeded) return answer({ code: 552, text: `5.3.4 Message size exceeds the fixed limit of ${maxMessageBytes} bytes.` });
        judge(raw).then((refusal) => {
          if (refusal) return answer(refusal);
          const fault = pending.find((p) => p.dataFault)?.dataFault;
          if (!fault || fault.status === null) return answer(undefined);
          answer({ code: fault.status, text: faultText(fault.status, fault.reason) });
        }, (err: unknown) => {
          o.log.error({ err }, 'SMTP simulator: checking a message failed'); // a bug: judge() answers every message
          answer({ code: 451, text: '4.3.0 Temporary local problem in the sandbox.' });
        });
      });
    },

    onClose(session) {
      pendingBySession.delete(session.id);
    },
  });
  server.on('error', (err) => o.log.debug({ err }, 'SMTP simulator: connection error'));

  /** DKIM first (on the raw bytes, as signed), then the header rules. */
  async function judge(raw: Buffer): Promise<SmtpRefusal | undefined> {
    const resolver = async (name: string, rrtype: string) => {
      if (rrtype === 'TXT' && name.toLowerCase() === keyName) return [txtStrings];
      throw Object.assign(new Error(`no ${rrtype} record for ${name}`), { code: 'ENOTFOUND' });
    };
    const [dkim, parsed] = await Promise.all([
      dkimVerify(raw, { resolver, curTime: new Date(o.clock()) }),
      simpleParser(raw, { skipHtmlToText: true, skipTextToHtml: true, skipImageLinks: true }),
    ]);
    const signatures: DkimVerdict[] = dkim.results
      .filter((r) => r.signingDomain)
      .map((r) => ({
        domain: r.signingDomain,
        result: r.status.result,
        aligned: Boolean(r.status.aligned),
        signedHeaders: signedHeadersOf(r),
      }));
    const from = parsed.from?.value.map((a) => a.address ?? '').filter((a) => a !== '') ?? [];
    return checkMessage({
      headers: parsed.headerLines.map((h) => ({ key: h.key.toLowerCase(), value: valueOf(h.line) })),
      fromAddresses: from,
      signatures,
    });
  }

  function dropConnection(session: SMTPServerSession): void {
    for (const conn of server.connections) if (conn.id === session.id) conn._socket.destroy();
  }

  const port = await listenOnFreePort(server.server, o.host);
  return {
    url: `smtp://${urlHost(o.host)}:${port}`,
    close: () => new Promise<void>((resolve) => {
      for (const t of timers) clearTimeout(t);
      timers.clear();
      server.close(() => resolve());
      for (const conn of server.connections) conn._socket.destroy();
    }),
  };
}

/** A header line's value: after the first colon, unfolded (RFC 5322 §2.2.3) and trimmed. */
function valueOf(line: string): string {
  return line.slice(line.indexOf(':') + 1).replace(/\r?\n[ \t]/g, ' ').trim();
}

/** mailauth lists the covered fields that the message has as "From: To: Subject…". */
function signedHeadersOf(r: unknown): string[] {
  const keys = (r as { signingHeaders?: { keys?: unknown } }).signingHeaders?.keys;
  return typeof keys === 'string' ? keys.split(':').map((k) => k.trim().toLowerCase()).filter((k) => k !== '') : [];
}
