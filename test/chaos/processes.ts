/**
 * Herald's processes as a chaos test runs them: real `node dist/src/cli/main.js` children with
 * their logs appended to files (across restarts), which the nemesis can kill -9 and start again.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from '../../src/paths.js';

export const heraldCli = join(packageRoot, 'dist', 'src', 'cli', 'main.js');

export interface ManagedProcess {
  name: string;
  pid(): number | undefined;
  running(): boolean;
  /** Starts it and resolves once `ready` says so. */
  start(): Promise<void>;
  /** Sends the signal and waits for the exit. */
  kill(signal?: NodeJS.Signals): Promise<void>;
  /** SIGTERM, then SIGKILL if it has not exited after `graceMs`. */
  stop(graceMs?: number): Promise<void>;
}

export interface ProcessOptions {
  name: string;
  args: string[];
  env?: Record<string, string>;
  logPath: string;
  /** Ready when this resolves true; polled with the output of the current run. */
  ready(output: string): Promise<boolean> | boolean;
  readyTimeoutMs?: number;
}

const everyProcess = new Set<ManagedProcess>();
let exitHook = false;

/** A Herald command (`start …`, `sandbox …`) as a child process. */
export function managedProcess(o: ProcessOptions): ManagedProcess {
  let child: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();
  const log = createWriteStream(o.logPath, { flags: 'a' });
  const running = () => child !== undefined && child.exitCode === null && child.signalCode === null;

  const p: ManagedProcess = {
    name: o.name,
    pid: () => child?.pid,
    running,
    async start() {
      if (running()) return;
      let output = '';
      log.write(`\n===== ${new Date().toISOString()} start ${o.name}: ${o.args.join(' ')}\n`);
      const c = spawn(process.execPath, ['--enable-source-maps', heraldCli, ...o.args], {
        env: { ...process.env, ...o.env },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      child = c;
      const keep = (d: Buffer) => {
        log.write(d);
        output = (output + d.toString()).slice(-50_000);
      };
      c.stdout!.on('data', keep);
      c.stderr!.on('data', keep);
      exited = new Promise((resolve) => c.once('exit', (code, signal) => {
        log.write(`===== ${new Date().toISOString()} ${o.name} exited (${signal ?? code})\n`);
        resolve();
      }));
      const deadline = Date.now() + (o.readyTimeoutMs ?? 30_000);
      for (;;) {
        if (!running()) throw new Error(`${o.name} exited while starting:\n${output.slice(-4_000)}`);
        if (await o.ready(output)) return;
        if (Date.now() > deadline) {
          c.kill('SIGKILL');
          throw new Error(`${o.name} was not ready in ${o.readyTimeoutMs ?? 30_000} ms:\n${output.slice(-4_000)}`);
        }
        await new Promise((r) => setTimeout(r, 50));
      }
    },
    async kill(signal = 'SIGKILL') {
      if (!running()) return;
      child!.kill(signal);
      await exited;
    },
    async stop(graceMs = 10_000) {
      if (!running()) return;
      child!.kill('SIGTERM');
      const timer = setTimeout(() => child?.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
    },
  };
  everyProcess.add(p);
  if (!exitHook) {
    exitHook = true;
    // Never leave a Herald behind when the test itself dies.
    process.once('exit', () => {
      for (const x of everyProcess) {
        const pid = x.pid();
        if (pid && x.running()) {
          try {
            process.kill(pid, 'SIGKILL');
          } catch {
            // already gone
          }
        }
      }
    });
  }
  return p;
}

/** Ready once GET url/healthz answers 200 (the API takes requests; /readyz would also need NATS). */
export const httpReady = (url: string) => async (): Promise<boolean> =>
  fetch(url + '/healthz', { signal: AbortSignal.timeout(1_000) }).then((r) => r.ok, () => false);

/** Ready once the output contains this pino `msg` (a worker has no HTTP port to ask). */
export const logReady = (msg: string) => (output: string): boolean => output.includes(`"msg":"${msg}`);
