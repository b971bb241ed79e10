import { randomBytes } from 'node:crypto';

/**
 * UUID version 7 (RFC 9562 §5.7): 48-bit Unix milliseconds, then random bits. Time-ordered ids keep
 * B-tree inserts at the right edge of the index, and they are valid lowercase APNs `apns-id`s.
 */
export function uuidv7(now = Date.now()): string {
  const b = randomBytes(16);
  b.writeUIntBE(now, 0, 6);
  b[6] = (b[6]! & 0x0f) | 0x70; // version 7
  b[8] = (b[8]! & 0x3f) | 0x80; // variant 10
  const h = b.toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}
