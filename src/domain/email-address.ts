/**
 * Email addresses as Herald keys them. The whole address is lower-cased: RFC 5321 §2.4 lets a
 * server treat the local part case-sensitively, but no mailbox provider does, and one key per
 * mailbox is what a suppression list needs (an unsubscribe of Ann@x.com must stop mail to ann@x.com).
 */

export function normalizeEmailAddress(address: string): string {
  return address.trim().toLowerCase();
}

/** RFC 5321 §4.5.3.1.3: a path is at most 256 octets, so an address at most 254. */
export const maxAddressLength = 254;

/**
 * A plausible addr-spec: local@domain, no spaces, angle brackets, or control characters, within
 * the length limit. Deliberately loose (the receiving server has the last word); it only keeps
 * garbage out of the store and out of SMTP commands.
 */
export function isEmailAddress(address: string): boolean {
  if (address.length === 0 || address.length > maxAddressLength) return false;
  return /^[^\s@<>()[\],;:"\\\x00-\x1f\x7f]+@[^\s@<>()[\],;:"\\\x00-\x1f\x7f]+\.[^\s@<>()[\],;:"\\\x00-\x1f\x7f.]+$/.test(address);
}

/** The domain part, lower-cased. */
export function domainOf(address: string): string {
  return normalizeEmailAddress(address.slice(address.lastIndexOf('@') + 1));
}
