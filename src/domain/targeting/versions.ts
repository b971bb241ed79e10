/**
 * App versions as targeting compares them: by their leading dotted numbers, part by part, a
 * shorter version before a longer one it is a prefix of ("4.2" < "4.2.0" < "4.10"). Anything after
 * the numbers ("-beta", " (123)") is ignored; a version with no leading number matches no range.
 * The SQL twin is herald_version_parts (migration 0015): the same pattern, so both agree.
 */
const leadingNumbers = /^\d{1,15}(?:\.\d{1,15})*/;

export function versionParts(version: string): number[] {
  const m = leadingNumbers.exec(version);
  return m ? m[0].split('.').map(Number) : [];
}

/** Negative, zero or positive as `a` sorts before, with or after `b`. */
export function compareVersions(a: readonly number[], b: readonly number[]): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return a.length - b.length;
}
