/**
 * A/B variants and the control group. A profile's bucket is a stable hash of (campaign, profile):
 * the same profile lands in the same variant on every occurrence of a recurring campaign and on
 * every retry, and no state has to be stored to keep it there. FNV-1a (32 bits) spreads short ids
 * evenly enough for percentage splits (http://www.isthe.com/chongo/tech/comp/fnv/); it is not a
 * security boundary: which variant someone gets is not a secret.
 */

/** A split: each variant's share and the control group's, in whole percent, summing to at most 100. */
export interface Split {
  /** Percent per variant, in order; variant i is `i`. */
  variants: readonly number[];
  /** Percent held out (never sent, counted as `control`). */
  control: number;
}

/** The control group's variant number in the ledger. */
export const controlVariant = -1;

/** 0..9999: the profile's bucket in the campaign, in hundredths of a percent. */
export function bucketOf(campaignId: string, customId: string): number {
  let h = 0x811c9dc5;
  const s = campaignId + '\0' + customId;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h % 10_000;
}

/**
 * The profile's variant: control first (buckets below the control share), then each variant's
 * share in order. When the shares sum to less than 100 the rest is spread over the variants in
 * proportion, so every profile outside the control group gets one.
 */
export function assignVariant(split: Split, campaignId: string, customId: string): number {
  const bucket = bucketOf(campaignId, customId);
  const control = split.control * 100;
  if (bucket < control) return controlVariant;
  const total = split.variants.reduce((a, b) => a + b, 0);
  const point = ((bucket - control) / (10_000 - control)) * total;
  let upTo = 0;
  for (let i = 0; i < split.variants.length; i++) {
    upTo += split.variants[i]!;
    if (point < upTo) return i;
  }
  return split.variants.length - 1;
}
