/**
 * nodemailer resolves SMTP host names itself and takes no `lookup`, so for tenant-named servers the
 * TCP connection is opened here, through the outbound guard (its literal check and its guarded
 * lookup), and handed to nodemailer as an already-open `connection` (its getSocket hook, the one
 * proxies use). nodemailer then upgrades it to TLS itself (security "tls") or at STARTTLS, with the
 * host name as the TLS server name, so certificates are still checked against the name.
 */
import type { SMTPTransportGetSocket } from 'nodemailer/lib/smtp-transport';
import { ForbiddenAddress, type OutboundGuard } from '../outbound-guard.js';

export function guardedSmtpSocket(guard: OutboundGuard, timeoutMs: number): SMTPTransportGetSocket {
  return (options, callback) => {
    guard.connect(String(options.host), Number(options.port), timeoutMs).then(
      (connection) => callback(null, { connection }),
      (err: NodeJS.ErrnoException) => {
        if (err instanceof ForbiddenAddress) return callback(err);
        // The codes nodemailer gives a connection it opened and lost, so callers read them as they always did.
        callback(Object.assign(new Error(err.message), { code: err.code === 'ETIMEDOUT' ? 'ETIMEDOUT' : 'ECONNECTION' }));
      },
    );
  };
}
