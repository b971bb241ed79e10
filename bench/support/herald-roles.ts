/**
 * Herald as separate role processes on a shared PostgreSQL and NATS (`herald start --role R`): the
 * API through processes.ts spawnHerald (ready when /readyz answers), and roles without an HTTP port
 * (worker, relay, scheduler), ready once their start-up log line is written.
 */
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { packageRoot } from '../../src/paths.js';

const cli = join(packageRoot, 'dist', 'src', 'cli', 'main.js');

/** Extra node flags for benchmark children, from HERALD_NODE_FLAGS (space-separated). */
export const nodeFlags = (): string[] => process.env.HERALD_NODE_FLAGS?.split(' ').filter(Boolean) ?? [];

export interface RoleProcess {
  child: ChildProcess;
  output(): string;
  stop(): Promise<number | null>;
}

/**
 * Starts `herald start ARGS` for a role that serves no HTTP, resolved once its log shows `readyLine`
 * (server.ts logs "using an external sandbox" just before it starts the workers).
 */
export async function spawnHeraldRole(args: string[], readyLine: string, timeoutMs = 30_000): Promise<RoleProcess> {
  // HERALD_NODE_FLAGS as test/support/process.ts takes them (e.g. `--cpu-prof --cpu-prof-dir DIR`).
  const child = spawn(process.execPath, [...nodeFlags(), '--enable-source-maps', cli, 'start', ...args], {
    // info, for the start-up line; Herald logs nothing per job at info.
    env: { ...process.env, HERALD_LOG_LEVEL: 'info' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let ready: (() => void) | undefined;
  const keep = (d: Buffer) => {
    out = (out + d.toString()).slice(-20_000);
    if (out.includes(readyLine)) ready?.();
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`herald ${args.join(' ')} not ready in ${timeoutMs} ms:\n${out}`)); }, timeoutMs);
    ready = () => { clearTimeout(timer); resolve(); };
    if (out.includes(readyLine)) ready();
    void exited.then((code) => { clearTimeout(timer); reject(new Error(`herald exited with ${code}:\n${out}`)); });
  });
  return {
    child,
    output: () => out,
    stop: async () => {
      child.kill('SIGTERM');
      return exited;
    },
  };
}

/**
 * `herald project create` against an external database; its REST key. `dataDir` is the Herald
 * processes' data folder, whose master key the project's VAPID pair is sealed with.
 */
export async function createProjectAt(databaseUrl: string, dataDir: string): Promise<{ project_id: string; rest_key: string }> {
  const { stdout } = await promisify(execFile)(process.execPath,
    [cli, 'project', 'create', '--name', 'bench', '--database-url', databaseUrl, '--data-dir', dataDir]);
  return JSON.parse(stdout) as { project_id: string; rest_key: string };
}
