/**
 * Which profile each target of a message belongs to, for counting: a device of an installation
 * attached to a named custom_id, a named profile's email address or phone number. Targets the
 * message names directly (tokens, addresses, numbers no named profile has) belong to no profile
 * and are never capped: capping counts people, and Herald knows a person only by custom_id.
 */
import type { RecipientRows, Recipients, Target } from '../recipients.js';

export function profilesOfTargets(r: Recipients, rows: Pick<RecipientRows, 'installations' | 'profiles'>, targets: readonly Target[]): (string | null)[] {
  const named = new Set(r.custom_ids ?? []);
  if (!named.size) return targets.map(() => null);
  const byDevice = new Map<string, string>();
  for (const i of rows.installations) if (i.custom_id !== null && named.has(i.custom_id)) byDevice.set(i.platform + ':' + i.token, i.custom_id);
  const byAddress = new Map<string, string>();
  for (const p of rows.profiles) {
    if (!named.has(p.custom_id)) continue;
    if (p.email && !byAddress.has('email:' + p.email.toLowerCase())) byAddress.set('email:' + p.email.toLowerCase(), p.custom_id);
    if (p.phone && !byAddress.has('sms:' + p.phone)) byAddress.set('sms:' + p.phone, p.custom_id);
  }
  return targets.map((t) => byDevice.get(t.platform + ':' + t.target) ?? byAddress.get(t.platform + ':' + t.target) ?? null);
}
