/**
 * Localized content: a message's default content plus variants per language, one chosen per
 * recipient by the profile's language. The lookup follows BCP 47 lookup (RFC 4647 §3.4): the
 * exact tag first ("pt-BR"), then shorter prefixes ("pt"), then the default content. Tags compare
 * case-insensitively (RFC 5646 §2.1.1).
 */

/** Variant keys: a BCP 47 language tag of a primary language and optional subtags ("fr", "pt-BR", "zh-Hant"). */
export const languageTagPattern = /^[a-zA-Z]{2,3}(-[a-zA-Z0-9]{2,8}){0,3}$/;

/** Most variants one message may carry. */
export const maxLocalizedVariants = 64;

export function chooseLocalized<T>(
  base: T,
  variants: Readonly<Record<string, T>> | undefined,
  language: string | null | undefined,
): { content: T; language: string | null } {
  if (!variants || !language) return { content: base, language: null };
  const byTag = new Map(Object.entries(variants).map(([k, v]) => [k.toLowerCase(), [k, v] as const]));
  const parts = language.toLowerCase().split(/[-_]/);
  for (let n = parts.length; n > 0; n--) {
    const hit = byTag.get(parts.slice(0, n).join('-'));
    if (hit) return { content: hit[1], language: hit[0] };
  }
  return { content: base, language: null };
}
