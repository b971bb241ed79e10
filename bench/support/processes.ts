/**
 * The processes a benchmark runs: the real `herald` CLI (sandbox and server) as children, with their
 * peak memory read from /proc (VmHWM: the high-water mark of resident memory).
 */
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { packageRoot } from '../../src/paths.js';
import { freePort, spawnHerald, type HeraldProcess } from '../../test/support/process.js';

export { freePort, spawnHerald, type HeraldProcess };

const cli = join(packageRoot, 'dist', 'src', 'cli', 'main.js');

/** Peak resident memory of a process in MiB, or undefined when it is gone. */
export async function peakRssMiB(pid: number): Promise<number | undefined> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => undefined);
  const kb = status?.match(/^VmHWM:\s+(\d+) kB/m)?.[1];
  return kb ? Number(kb) / 1024 : undefined;
}

/** All descendants of a process (the embedded PostgreSQL's server processes, for one). */
export async function descendants(pid: number): Promise<number[]> {
  const parents = new Map<number, number[]>();
  for (const d of await readdir('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    const stat = await readFile(`/proc/${d}/stat`, 'utf8').catch(() => '');
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    if (!parents.has(ppid)) parents.set(ppid, []);
    parents.get(ppid)!.push(Number(d));
  }
  const out: number[] = [];
  const walk = (p: number) => (parents.get(p) ?? []).forEach((c) => { out.push(c); walk(c); });
  walk(pid);
  return out;
}

export interface SandboxProcess {
  child: ChildProcess;
  url: string;
  stop(): Promise<void>;
}

export async function spawnSandbox(): Promise<SandboxProcess> {
  const port = await freePort();
  const child = spawn(process.execPath, [cli, 'sandbox', '--sandbox-port', String(port)], {
    env: { ...process.env, HERALD_LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; ; i++) {
    if (await fetch(url + '/_sandbox/endpoints').then((r) => r.ok, () => false)) break;
    if (i > 300 || child.exitCode !== null) throw new Error('the sandbox did not start');
    await new Promise((r) => setTimeout(r, 50));
  }
  const exited = new Promise((r) => child.once('exit', r));
  return { child, url, stop: async () => { child.kill('SIGTERM'); await exited; } };
}

export async function createProjectKeys(dataDir: string): Promise<{ rest_key: string }> {
  const { stdout } = await promisify(execFile)(process.execPath, [cli, 'project', 'create', '--name', 'bench', '--data-dir', dataDir],
    { env: { ...process.env, DATABASE_URL: '' } });
  return JSON.parse(stdout) as { rest_key: string };
}
