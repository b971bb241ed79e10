/**
 * What `herald doctor` concludes from what it measured (src/cli/doctor.ts measures): each check
 * says ok, warn or fail, and one line why. Pure, so each judgment is tested on its own.
 */
export type Verdict = 'ok' | 'warn' | 'fail';

export interface CheckResult {
  check: string;
  verdict: Verdict;
  detail: string;
}

/**
 * PostgreSQL's settings that decide whether a commit survives a crash, and so whether Herald's
 * 2xx ("durably stored") holds:
 * - fsync off: "can result in unrecoverable data corruption" after a crash
 *   (https://www.postgresql.org/docs/current/runtime-config-wal.html#GUC-FSYNC);
 * - synchronous_commit off: a commit reported to Herald can be lost in a crash, up to three times
 *   wal_writer_delay (https://www.postgresql.org/docs/current/wal-async-commit.html);
 * - full_page_writes off: a torn page after a crash may be unrecoverable (#GUC-FULL-PAGE-WRITES);
 * - wal_level minimal: no WAL archiving or replicas, so no point-in-time recovery
 *   (https://www.postgresql.org/docs/current/runtime-config-wal.html#GUC-WAL-LEVEL).
 */
export function judgeDurability(settings: Record<string, string | undefined>): CheckResult[] {
  const one = (name: string, unsafe: (v: string) => string | undefined): CheckResult => {
    const v = settings[name];
    if (v === undefined) return { check: `postgres ${name}`, verdict: 'warn', detail: 'not readable on this server' };
    const why = unsafe(v);
    return why ? { check: `postgres ${name}`, verdict: 'warn', detail: `${v}: ${why}` } : { check: `postgres ${name}`, verdict: 'ok', detail: v };
  };
  return [
    one('fsync', (v) => (v === 'off' ? 'a crash of the server can corrupt the database; set fsync = on' : undefined)),
    one('synchronous_commit', (v) => (v === 'off'
      ? 'a crash can lose commits Herald already answered 2xx for; set synchronous_commit = on (or remote_write/remote_apply on a replica set)'
      : undefined)),
    one('full_page_writes', (v) => (v === 'off' ? 'a crash mid-write can leave torn pages; set full_page_writes = on' : undefined)),
    one('wal_level', (v) => (v === 'minimal' ? 'no WAL archiving or replica is possible, so no point-in-time recovery; use replica' : undefined)),
  ];
}

/** The schema: every migration this build knows is applied, and none it does not know. */
export function judgeMigrations(applied: readonly string[] | undefined, known: readonly string[]): CheckResult {
  const check = 'migrations';
  if (applied === undefined) return { check, verdict: 'fail', detail: `none applied (an empty database): run herald migrate; this build has ${known.length}` };
  const unknown = applied.filter((v) => !known.includes(v));
  if (unknown.length) {
    return { check, verdict: 'fail', detail: `the database has ${unknown.length} this build does not know (${unknown.join(', ')}): a newer Herald migrated it; run that version` };
  }
  const pending = known.filter((v) => !applied.includes(v));
  if (pending.length) return { check, verdict: 'warn', detail: `${applied.length} of ${known.length} applied; herald migrate (or herald start) applies ${pending.join(', ')}` };
  return { check, verdict: 'ok', detail: `${applied.length} of ${known.length} applied (latest ${known.at(-1) ?? 'none'})` };
}

/** The clock of this machine against PostgreSQL's (`now()`), the RTT's half taken as the error. */
export function judgeClockSkew(skewMs: number, rttMs: number): CheckResult {
  const check = 'clock skew';
  const abs = Math.abs(skewMs);
  const detail = `${skewMs >= 0 ? '+' : '-'}${(abs / 1000).toFixed(3)} s against PostgreSQL (±${(rttMs / 2000).toFixed(3)} s)`;
  // Leases, run_at and expiries are compared with PostgreSQL's time in places and this process's in
  // others: past a second, jobs run early or late and leases expire under their holder.
  if (abs > 1000) return { check, verdict: 'warn', detail: `${detail}: more than 1 s; run NTP (chrony, systemd-timesyncd) on both machines` };
  return { check, verdict: 'ok', detail };
}

export interface StreamFacts {
  name: string;
  /** undefined: the stream does not exist. */
  replicas?: number;
  /** Problems streamSafetyProblems found in its configuration. */
  problems?: readonly string[];
}

/** The job stream: present (a fresh deployment's first start creates it), replicated as configured, safe. */
export function judgeJobStream(s: StreamFacts, wantedReplicas: number): CheckResult {
  const check = 'nats job stream';
  if (s.replicas === undefined) return { check, verdict: 'warn', detail: `${s.name} does not exist yet: herald start creates it` };
  if (s.problems?.length) return { check, verdict: 'fail', detail: `${s.name}: ${s.problems.join('; ')}` };
  if (s.replicas < wantedReplicas) {
    return { check, verdict: 'warn', detail: `${s.name} has ${s.replicas} replica(s), configured ${wantedReplicas} (--nats-replicas): a lost server may lose jobs` };
  }
  return { check, verdict: 'ok', detail: `${s.name}, ${s.replicas} replica(s)` };
}

/** The exit code: non-zero when any check failed. */
export function doctorExitCode(results: readonly CheckResult[]): number {
  return results.some((r) => r.verdict === 'fail') ? 1 : 0;
}

/** One line per check: `ok   name: detail`, `warn name: detail`, `FAIL name: detail`. */
export function formatCheck(r: CheckResult): string {
  const tag = r.verdict === 'ok' ? 'ok  ' : r.verdict === 'warn' ? 'warn' : 'FAIL';
  return `${tag} ${r.check}: ${r.detail}`;
}
