/**
 * The inbox's pure decisions (docs/inbox.md): whose inbox a delivery's item goes to, the week a
 * item's partition covers, and the opaque keyset cursor of a page. No I/O.
 */
import { pushPlatforms } from './push.js';

/** An inbox belongs to a profile (every device of a custom_id) or to an installation without one. */
export interface InboxOwner {
  kind: 'profile' | 'installation';
  /** The custom_id of a profile, the install_id of an installation. */
  id: string;
}

/**
 * The owner of the item a push delivery brings: the profile the target was found through, or the
 * installation when it has no custom_id. A push sent to a bare token (no installation) has no
 * inbox; nor has a delivery capping skipped (the person was not to get this message), while a
 * token known dead still gets its item: the person can read in the app what the device missed.
 */
export function inboxOwnerOf(d: { platform: string; status: string; custom_id: string | null; install_id: string | null }): InboxOwner | undefined {
  if (!(pushPlatforms as readonly string[]).includes(d.platform) || d.status === 'skipped') return undefined;
  if (d.custom_id !== null) return { kind: 'profile', id: d.custom_id };
  if (d.install_id !== null) return { kind: 'installation', id: d.install_id };
  return undefined;
}

const dayMs = 86_400_000;
/** 1970-01-05, the first Monday of the epoch: weeks start on Monday at 00:00 UTC (ISO 8601). */
const firstMondayMs = 4 * dayMs;
export const inboxPartitionMs = 7 * dayMs;

/** The week (Monday 00:00 UTC to the next) whose partition holds items created at `at`. */
export function inboxWeek(at: Date): { from: Date; to: Date } {
  const from = Math.floor((at.getTime() - firstMondayMs) / inboxPartitionMs) * inboxPartitionMs + firstMondayMs;
  return { from: new Date(from), to: new Date(from + inboxPartitionMs) };
}

/** Where a page ended: the last item's created_at (microseconds kept as text) and id. */
export interface InboxCursor {
  at: string;
  id: string;
}

const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const timestamp = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?Z$/;

export function encodeInboxCursor(c: InboxCursor): string {
  return Buffer.from(`${c.at}|${c.id}`, 'utf8').toString('base64url');
}

/** The cursor a page gave, or undefined when `text` is not one (altered, or made by hand). */
export function decodeInboxCursor(text: string): InboxCursor | undefined {
  const [at, id, extra] = Buffer.from(text, 'base64url').toString('utf8').split('|');
  if (extra !== undefined || at === undefined || id === undefined || !timestamp.test(at) || !uuid.test(id)) return undefined;
  return { at, id };
}
