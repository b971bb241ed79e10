/**
 * The connect-time half of the private-network rule (domain/network-address.ts): every connection
 * Herald opens to a host a tenant named (a push subscription's endpoint, an SMTP host, a token_uri,
 * an SMS base_url) resolves its name through `lookupFor`, which refuses a name any of whose
 * addresses is loopback, private, link-local or otherwise non-public. Checking the addresses the
 * socket is about to use, not an earlier lookup, is what stops DNS rebinding (a name that answers a
 * public address when checked and 127.0.0.1 when connected). Literal addresses never reach a lookup
 * (net.connect skips it for an IP), so `check` refuses those before connecting.
 *
 * A refusal happens before any packet is sent, so it reads the same whatever the port: it cannot
 * tell an open port from a closed one.
 */
import dns from 'node:dns';
import type { DeliveryOutcome } from '../domain/outcome.js';
import net, { type LookupFunction } from 'node:net';
import {
  allowsPrivate, describeRefusal, noPrivateNetworks, nonPublicRangeOfHost, refusalOfHost, type PrivateNetworkAllowance,
} from '../domain/network-address.js';

/** Herald refused to connect: the host is, or resolves to, a non-public address. */
export class ForbiddenAddress extends Error {
  readonly code = 'EFORBIDDENADDRESS';
}

/** A refused address as the delivery's own outcome: decided here, before anything was sent, so no breaker moves. */
export function forbiddenOutcome(err: { message: string }): DeliveryOutcome {
  return { kind: 'rejected', reason: `forbidden_address: ${err.message}`, local: true };
}

export interface OutboundGuard {
  /** Throws ForbiddenAddress when `host` is a non-public address literal (names pass: `lookupFor` checks them). */
  check(host: string, port: number): void;
  /** A dns.lookup for connect options (`lookup: guard.lookupFor(port)`): refuses names that resolve to non-public addresses. */
  lookupFor(port: number): LookupFunction;
  /** A TCP connection to host:port through both checks; rejects with ForbiddenAddress or the socket's error. */
  connect(host: string, port: number, timeoutMs: number): Promise<net.Socket>;
}

type Resolve = (host: string, cb: (err: NodeJS.ErrnoException | null, addresses: dns.LookupAddress[]) => void) => void;

const systemResolve: Resolve = (host, cb) => dns.lookup(host, { all: true }, cb);

export function createOutboundGuard(allowance: PrivateNetworkAllowance = noPrivateNetworks, resolve: Resolve = systemResolve): OutboundGuard {
  const check = (host: string, port: number) => {
    const refusal = refusalOfHost(allowance, host, port);
    if (refusal) throw new ForbiddenAddress(refusal);
  };

  const lookupFor = (port: number): LookupFunction => (hostname, options, callback) => {
    resolve(hostname, (err, addresses) => {
      if (err) return callback(err, '', 4);
      if (!allowsPrivate(allowance, hostname, port)) {
        for (const a of addresses) {
          const kind = nonPublicRangeOfHost(a.address);
          if (kind) return callback(new ForbiddenAddress(describeRefusal(hostname, kind, a.address)) as NodeJS.ErrnoException, '', 4);
        }
      }
      const wanted = options.family === 4 || options.family === 6 ? addresses.filter((a) => a.family === options.family) : addresses;
      if (wanted.length === 0) {
        const none = Object.assign(new Error(`no address for ${hostname}`), { code: 'ENOTFOUND' }) as NodeJS.ErrnoException;
        return callback(none, '', 4);
      }
      if (options.all) return (callback as unknown as (e: null, a: dns.LookupAddress[]) => void)(null, wanted);
      callback(null, wanted[0]!.address, wanted[0]!.family);
    });
  };

  const connect = (host: string, port: number, timeoutMs: number) => new Promise<net.Socket>((resolveSocket, reject) => {
    try {
      check(host, port);
    } catch (err) {
      reject(err);
      return;
    }
    const socket = net.connect({ host: host.replace(/^\[(.*)\]$/, '$1'), port, lookup: lookupFor(port) });
    socket.setTimeout(timeoutMs, () => socket.destroy(Object.assign(new Error(`no connection within ${timeoutMs} ms`), { code: 'ETIMEDOUT' })));
    socket.once('connect', () => {
      socket.setTimeout(0);
      socket.removeListener('error', reject);
      resolveSocket(socket);
    });
    socket.once('error', reject);
  });

  return { check, lookupFor, connect };
}

/** No checks: for callers whose targets are Herald's own configuration, never a tenant's (and unit tests). */
export const unguarded: OutboundGuard = createOutboundGuard({ all: true, origins: [] });
