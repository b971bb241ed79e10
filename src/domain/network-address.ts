/**
 * Which addresses Herald may connect to on a tenant's behalf. Push subscription endpoints (from the
 * public SDK key) and provider settings (SMTP host, token_uri, base_url) name arbitrary hosts; a host
 * on this machine, the private network or the cloud's metadata service (169.254.169.254) must not be
 * reachable through them, or Herald's delivery outcomes become a scanner of the network it runs in.
 *
 * Addresses are classified against IANA's special-purpose registries (RFC 6890 and its updates,
 * https://www.iana.org/assignments/iana-ipv4-special-registry and iana-ipv6-special-registry): only
 * globally routable unicast is public. IPv6 forms that carry an IPv4 address (IPv4-mapped
 * ::ffff:0:0/96, RFC 4291 §2.5.5.2; NAT64 64:ff9b::/96, RFC 6052 §2.1; 6to4 2002::/16, RFC 3056 §2)
 * are judged by that IPv4 address. Host text is read the way the WHATWG URL parser reads it (Node's
 * `URL`), so every IPv4 spelling a connect could resolve — 2130706433, 0x7f.1, 127.1, 0177.0.0.1 —
 * is the address it means. Pure: no I/O.
 */

export type NonPublicRange =
  | 'loopback' | 'private' | 'link-local' | 'unspecified' | 'multicast' | 'broadcast' | 'reserved';

interface Range {
  bytes: number[];
  bits: number;
  kind: NonPublicRange;
}

function range(cidr: string, kind: NonPublicRange): Range {
  const [text, bits] = cidr.split('/') as [string, string];
  const bytes = text.includes(':') ? ipv6Bytes(text)! : ipv4Bytes(text)!;
  return { bytes, bits: Number(bits), kind };
}

/** IANA IPv4 Special-Purpose Address Registry: every block that is not globally reachable unicast. */
const ipv4Ranges: Range[] = [
  range('0.0.0.0/8', 'unspecified'), // "this network" (RFC 791); 0.0.0.0 reaches the local host on Linux
  range('10.0.0.0/8', 'private'), // RFC 1918
  range('100.64.0.0/10', 'private'), // shared address space, carrier-grade NAT (RFC 6598)
  range('127.0.0.0/8', 'loopback'), // RFC 1122 §3.2.1.3
  range('169.254.0.0/16', 'link-local'), // RFC 3927; cloud metadata services live at 169.254.169.254
  range('172.16.0.0/12', 'private'), // RFC 1918
  range('192.0.0.0/24', 'reserved'), // IETF protocol assignments (RFC 6890)
  range('192.0.2.0/24', 'reserved'), // TEST-NET-1 (RFC 5737)
  range('192.88.99.0/24', 'reserved'), // 6to4 relay anycast (RFC 7526)
  range('192.168.0.0/16', 'private'), // RFC 1918
  range('198.18.0.0/15', 'reserved'), // benchmarking (RFC 2544)
  range('198.51.100.0/24', 'reserved'), // TEST-NET-2 (RFC 5737)
  range('203.0.113.0/24', 'reserved'), // TEST-NET-3 (RFC 5737)
  range('224.0.0.0/4', 'multicast'), // RFC 5771
  range('255.255.255.255/32', 'broadcast'), // RFC 919; checked before 240/4
  range('240.0.0.0/4', 'reserved'), // RFC 1112
];

/** IANA IPv6 Special-Purpose Address Registry, less the forms that embed an IPv4 address (below). */
const ipv6Ranges: Range[] = [
  range('::/128', 'unspecified'), // RFC 4291 §2.5.2
  range('::1/128', 'loopback'), // RFC 4291 §2.5.3
  range('::/96', 'reserved'), // IPv4-compatible, deprecated (RFC 4291 §2.5.5.1)
  range('64:ff9b:1::/48', 'private'), // local-use NAT64 (RFC 8215)
  range('100::/64', 'reserved'), // discard-only (RFC 6666)
  range('2001::/23', 'reserved'), // IETF protocol assignments, Teredo included (RFC 2928, RFC 4380)
  range('2001:db8::/32', 'reserved'), // documentation (RFC 3849)
  range('3fff::/20', 'reserved'), // documentation (RFC 9637)
  range('5f00::/16', 'reserved'), // SRv6 SIDs (RFC 9602)
  range('fc00::/7', 'private'), // unique local (RFC 4193)
  range('fe80::/10', 'link-local'), // RFC 4291 §2.5.6
  range('fec0::/10', 'private'), // site-local, deprecated (RFC 3879)
  range('ff00::/8', 'multicast'), // RFC 4291 §2.7
];

function inRange(bytes: number[], r: Range): boolean {
  if (bytes.length !== r.bytes.length) return false;
  let bits = r.bits;
  for (let i = 0; bits > 0; i++, bits -= 8) {
    const mask = bits >= 8 ? 0xff : (0xff << (8 - bits)) & 0xff;
    if ((bytes[i]! & mask) !== (r.bytes[i]! & mask)) return false;
  }
  return true;
}

/** Four bytes of a dotted-quad of decimals (the only IPv4 form URL serialises), else undefined. */
function ipv4Bytes(text: string): number[] | undefined {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(text);
  if (!m) return undefined;
  const bytes = m.slice(1).map(Number);
  return bytes.every((b) => b <= 255) ? bytes : undefined;
}

/** Sixteen bytes of an IPv6 address in any RFC 4291 §2.2 text form, else undefined. */
function ipv6Bytes(text: string): number[] | undefined {
  let t = text;
  // A dotted IPv4 tail (::ffff:127.0.0.1) is the last two words written another way.
  const dotted = /^(.*:)(\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3})$/.exec(t);
  if (dotted) {
    const b = ipv4Bytes(dotted[2]!);
    if (!b) return undefined;
    t = `${dotted[1]}${((b[0]! << 8) | b[1]!).toString(16)}:${((b[2]! << 8) | b[3]!).toString(16)}`;
  }
  const halves = t.split('::');
  if (halves.length > 2) return undefined;
  const words = (s: string) => (s === '' ? [] : s.split(':'));
  const head = words(halves[0]!);
  const rest = halves.length === 2 ? words(halves[1]!) : [];
  const missing = 8 - head.length - rest.length;
  if (halves.length === 1 ? missing !== 0 : missing < 1) return undefined;
  const bytes: number[] = [];
  for (const w of [...head, ...Array<string>(halves.length === 2 ? missing : 0).fill('0'), ...rest]) {
    if (!/^[0-9a-fA-F]{1,4}$/.test(w)) return undefined;
    const n = parseInt(w, 16);
    bytes.push(n >> 8, n & 0xff);
  }
  return bytes;
}

/**
 * The IP address a host names, as bytes (4 or 16), or undefined when the host is a name. Takes a
 * URL's hostname (IPv6 in brackets) or a bare host as a socket gets it; IPv4 is read as the WHATWG
 * URL parser reads a special URL's host, so the number forms are the address they mean.
 */
export function addressOfHost(host: string): number[] | undefined {
  const bare = host.replace(/^\[(.*)\]$/, '$1').replace(/%.*$/, ''); // a zone id (fe80::1%eth0) names an interface, not an address
  if (bare.includes(':')) return ipv6Bytes(bare);
  let normalised: string;
  try {
    normalised = new URL(`https://${bare}/`).hostname;
  } catch {
    return undefined; // not a host at all (an IPv4-looking name out of range fails here): nothing to connect to
  }
  return ipv4Bytes(normalised);
}

const mappedPrefix = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff];
const nat64Prefix = [0, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0];
const startsWith = (bytes: number[], prefix: number[]) => prefix.every((b, i) => bytes[i] === b);

/** The non-public range `address` (bytes from addressOfHost) lies in, or undefined for public unicast. */
export function nonPublicRangeOf(address: number[]): NonPublicRange | undefined {
  if (address.length === 4) return ipv4Ranges.find((r) => inRange(address, r))?.kind;
  // IPv4-mapped ::ffff:0:0/96 and NAT64 64:ff9b::/96: the IPv4 address they carry decides.
  if (startsWith(address, mappedPrefix) || startsWith(address, nat64Prefix)) return nonPublicRangeOf(address.slice(12));
  // 6to4 2002:V4ADDR::/48 (RFC 3056 §2).
  if (address[0] === 0x20 && address[1] === 0x02) {
    const v4 = nonPublicRangeOf(address.slice(2, 6));
    if (v4) return v4;
  }
  return ipv6Ranges.find((r) => inRange(address, r))?.kind;
}

/** The non-public range a host literal names; undefined for public addresses and for names. */
export function nonPublicRangeOfHost(host: string): NonPublicRange | undefined {
  const address = addressOfHost(host);
  return address && nonPublicRangeOf(address);
}

/**
 * Where private targets are allowed anyway: everywhere (`all`, for a deployment whose providers
 * are on its own network, and for tests), or at exactly these origins (the sandbox's simulators,
 * which unconfigured projects deliver to), as `host:port` with the host as a URL writes it.
 */
export interface PrivateNetworkAllowance {
  all: boolean;
  origins: readonly string[];
}

export const noPrivateNetworks: PrivateNetworkAllowance = { all: false, origins: [] };

/** `host:port` as the allowance lists it: the URL form of the host (lower case, IPv6 bracketed, IPv4 normalised). */
export function originKey(host: string, port: number): string {
  const bare = host.replace(/^\[(.*)\]$/, '$1');
  let h: string;
  try {
    h = new URL(`https://${bare.includes(':') ? `[${bare}]` : bare}/`).hostname;
  } catch {
    h = bare.toLowerCase();
  }
  return `${h}:${port}`;
}

export function allowsPrivate(allowance: PrivateNetworkAllowance, host: string, port: number): boolean {
  return allowance.all || allowance.origins.includes(originKey(host, port));
}

/** Why Herald refuses to connect to `host:port` as written, or undefined (a public literal, or a name: its addresses are checked when it is resolved). */
export function refusalOfHost(allowance: PrivateNetworkAllowance, host: string, port: number): string | undefined {
  const kind = nonPublicRangeOfHost(host);
  if (!kind || allowsPrivate(allowance, host, port)) return undefined;
  return describeRefusal(host, kind);
}

/** The refusal's words: the same whatever the port, since nothing was connected to. */
export function describeRefusal(host: string, kind: NonPublicRange, resolvedTo?: string): string {
  const what = resolvedTo === undefined ? `${host} is` : `${host} resolves to ${resolvedTo}, which is`;
  return `${what} ${/^[aeiou]/.test(kind) ? 'an' : 'a'} ${kind} address: Herald does not connect to private networks`;
}

/** A URL's port as a connection uses it (the scheme's default when it names none). */
export function portOfUrl(url: URL): number {
  if (url.port) return Number(url.port);
  return url.protocol === 'http:' ? 80 : 443;
}
