/**
 * Whether an email open was made by a machine rather than a person. Apple Mail Privacy Protection
 * loads every image of every message through Apple's proxies when the message arrives, whether or
 * not anyone reads it; those fetches come from Apple's network (17.0.0.0/8, ARIN's registration
 * of Apple) with the bare User-Agent `Mozilla/5.0`
 * (https://help.socketlabs.com/docs/identifying-apple-mpp-opens-in-notification-api-events).
 * Either sign flags the open; it is recorded and counted apart (opens_machine), never in the
 * opens a rate is computed from. Gmail's and Yahoo's image proxies fetch when a person opens the
 * message, so their opens are counted as people's.
 */
export function isMachineOpen(r: { userAgent: string | undefined; ip: string | undefined }): boolean {
  if (r.userAgent !== undefined && r.userAgent.trim() === 'Mozilla/5.0') return true;
  const ip = r.ip?.replace(/^::ffff:/i, '');
  return ip !== undefined && /^17\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(ip);
}
