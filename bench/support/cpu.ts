/**
 * CPU time of processes from /proc, so a benchmark can show where a run spent its cores: per child
 * process, and for the shared servers (PostgreSQL, NATS, Redis) by command name. Linux only.
 */
import { readFile, readdir } from 'node:fs/promises';

/** Clock ticks per second of /proc/<pid>/stat's utime and stime (USER_HZ, 100 on Linux). */
const ticksPerSecond = 100;

/** User + system CPU seconds a process has used, or undefined when it is gone. */
export async function cpuSeconds(pid: number): Promise<number | undefined> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => undefined);
  if (!stat) return undefined;
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // After the command: state is field 3, utime field 14 and stime field 15 (proc(5)).
  return (Number(fields[11]) + Number(fields[12])) / ticksPerSecond;
}

/**
 * Pids whose command name (/proc/<pid>/comm) is `name` and, when given, whose arguments
 * (/proc/<pid>/cmdline, split at NULs) pass `args`: to pick one PostgreSQL database's backends, or
 * one NATS server among several, on a machine others share.
 */
export async function pidsNamed(name: string, args?: (argv: string[]) => boolean): Promise<number[]> {
  const out: number[] = [];
  for (const d of await readdir('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    const comm = await readFile(`/proc/${d}/comm`, 'utf8').catch(() => '');
    if (comm.trim() !== name) continue;
    if (args && !args((await readFile(`/proc/${d}/cmdline`, 'utf8').catch(() => '')).split('\0'))) continue;
    out.push(Number(d));
  }
  return out;
}

/** The CPU seconds so far of every process pidsNamed finds, by pid (processes that start and end
 *  between two readings are missed). */
export async function cpuSecondsNamed(name: string, args?: (argv: string[]) => boolean): Promise<Map<number, number>> {
  const m = new Map<number, number>();
  for (const pid of await pidsNamed(name, args)) {
    const s = await cpuSeconds(pid);
    if (s !== undefined) m.set(pid, s);
  }
  return m;
}

/** CPU seconds used between two readings of cpuSecondsNamed (processes in both, or new in the second). */
export function cpuDelta(before: Map<number, number>, after: Map<number, number>): number {
  let sum = 0;
  for (const [pid, s] of after) sum += s - (before.get(pid) ?? 0);
  return sum;
}

/** The machine's busy and total CPU seconds so far (/proc/stat's first line). */
export async function machineCpu(): Promise<{ busy: number; total: number }> {
  const line = (await readFile('/proc/stat', 'utf8')).split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  const total = line.reduce((a, b) => a + b, 0);
  const idle = (line[3] ?? 0) + (line[4] ?? 0); // idle + iowait
  return { busy: (total - idle) / ticksPerSecond, total: total / ticksPerSecond };
}

/** A shared server's processes: by command name, narrowed by their arguments. */
export interface ServerMatch { name: string; args?: (argv: string[]) => boolean }

/** CPU seconds so far of our children (by role) and of the shared servers. */
export async function cpuNow(children: Record<string, number[]>, servers: Record<string, ServerMatch>) {
  const own: Record<string, number> = {};
  for (const [role, pids] of Object.entries(children)) {
    own[role] = (await Promise.all(pids.map(cpuSeconds))).reduce<number>((a, b) => a + (b ?? 0), 0);
  }
  const shared: Record<string, Map<number, number>> = {};
  for (const [k, m] of Object.entries(servers)) shared[k] = await cpuSecondsNamed(m.name, m.args);
  return { own, shared, machine: await machineCpu() };
}

/** CPU seconds each part used between two cpuNow readings, `other` for the rest of the machine's
 *  busy time, and the machine's busy share in %. */
export function cpuUsed(a: Awaited<ReturnType<typeof cpuNow>>, b: Awaited<ReturnType<typeof cpuNow>>) {
  const used: Record<string, number> = {};
  for (const k of Object.keys(b.own)) used[k] = b.own[k]! - (a.own[k] ?? 0);
  for (const k of Object.keys(b.shared)) used[k] = cpuDelta(a.shared[k]!, b.shared[k]!);
  const busySeconds = b.machine.busy - a.machine.busy;
  const busy = (busySeconds / (b.machine.total - a.machine.total)) * 100;
  // Whatever else ran on the machine meanwhile (other people's tests, the kernel).
  used.other = busySeconds - Object.values(used).reduce((x, y) => x + y, 0);
  return { used, busy };
}

/** Arguments naming `port` (`-p PORT`, `--port PORT`, `HOST:PORT`): one server among several of a kind. */
export const listensOn = (port: string) => (argv: string[]) =>
  argv.some((a, i) => a.endsWith(`:${port}`) || (a === port && ['-p', '--port', '-port'].includes(argv[i - 1] ?? '')));
