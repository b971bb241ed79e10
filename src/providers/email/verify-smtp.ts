/**
 * Proves SMTP settings before they are stored: connect, read the greeting, EHLO, upgrade to TLS
 * when asked, log in when a login is given (nodemailer's verify()), then hang up. A failure names
 * the step that failed, never the password nor the server's words (which may quote the login).
 */
import nodemailer from 'nodemailer';
import type { SmtpCredentials } from '../../domain/provider-credentials.js';
import { ForbiddenAddress, type OutboundGuard } from '../outbound-guard.js';
import { guardedSmtpSocket } from './guarded-socket.js';

export type SmtpProblemCode = 'smtp_unreachable' | 'smtp_tls_failed' | 'smtp_auth_failed' | 'smtp_rejected' | 'forbidden_address';

export class SmtpProblem extends Error {
  constructor(readonly code: SmtpProblemCode, message: string) {
    super(message);
  }
}

/** Long enough for a distant server on a slow link, short enough that an API call never hangs long. */
export const smtpVerifyTimeoutMs = 10_000;

export interface VerifyOptions {
  timeoutMs?: number;
  /** Extra CAs to trust (tests' self-signed servers); the system's roots otherwise. */
  ca?: string | undefined;
  /** Refuses hosts on private networks (the settings are the tenant's); every host is tried without it. */
  guard?: OutboundGuard | undefined;
}

export async function verifySmtp(c: SmtpCredentials, o: VerifyOptions = {}): Promise<void> {
  const timeout = o.timeoutMs ?? smtpVerifyTimeoutMs;
  const transport = nodemailer.createTransport({
    host: c.host,
    port: c.port,
    secure: c.security === 'tls',
    requireTLS: c.security === 'starttls',
    ignoreTLS: c.security === 'none',
    ...(c.username !== undefined ? { auth: { user: c.username, pass: c.password ?? '' } } : {}),
    connectionTimeout: timeout,
    greetingTimeout: timeout,
    socketTimeout: timeout,
    ...(o.ca ? { tls: { ca: o.ca } } : {}),
    logger: false,
    debug: false,
    ...(o.guard ? { getSocket: guardedSmtpSocket(o.guard, timeout) } : {}),
  });
  try {
    await transport.verify();
  } catch (err) {
    // Refused before connecting, so the answer is the same whether anything listens on the port.
    if (err instanceof ForbiddenAddress) throw new SmtpProblem('forbidden_address', `host: ${err.message}`);
    throw describe(err as { code?: string; responseCode?: number; message?: string }, `${c.host}:${c.port}`);
  } finally {
    transport.close();
  }
}

function describe(err: { code?: string; responseCode?: number; message?: string }, where: string): SmtpProblem {
  const detail = [err.code, err.responseCode].filter((x) => x !== undefined).join(' ');
  const tlsLike = /certificate|ssl|tls|handshake/i.test(err.message ?? '');
  switch (err.code) {
    case 'EAUTH':
    case 'ENOAUTH':
      return new SmtpProblem('smtp_auth_failed', `the SMTP server at ${where} refused the login (${detail})`);
    case 'ETLS':
      return new SmtpProblem('smtp_tls_failed', `the SMTP server at ${where} did not complete STARTTLS (${detail}); ` +
        'use security "tls" for port 465, or "none" only for a relay on a trusted network');
    case 'ECONNECTION':
    case 'ESOCKET':
      if (tlsLike) return new SmtpProblem('smtp_tls_failed', `the TLS connection to the SMTP server at ${where} failed (${detail})`);
      return new SmtpProblem('smtp_unreachable', `the SMTP server at ${where} could not be reached (${detail})`);
    case 'ETIMEDOUT':
    case 'EDNS':
      return new SmtpProblem('smtp_unreachable', `the SMTP server at ${where} could not be reached (${detail})`);
    default:
      return new SmtpProblem('smtp_rejected', `the SMTP server at ${where} did not accept the session (${detail || 'no answer'})`);
  }
}
