/** Herald as a real child process (`node dist/src/cli/main.js`), for tests that kill -9 it. */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { packageRoot } from '../../src/paths.js';

const cli = join(packageRoot, 'dist', 'src', 'cli', 'main.js');

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const a = srv.address();
      srv.close(() => (a && typeof a === 'object' ? resolve(a.port) : reject(new Error('no port'))));
    });
  });
}

export interface HeraldProcess {
  child: ChildProcess;
  url: string;
  /** Output of the process so far, for failure messages. */
  output(): string;
  kill9(): Promise<void>;
  stop(): Promise<number | null>;
}

/**
 * The JetStream stream prefix of the Herald processes this test file spawns. They inherit NATS_URL
 * (set in CI), so they run on the shared server, where two test files using the default names
 * would consume each other's jobs. One prefix per test-file process: a restarted Herald finds its
 * own stream again.
 */
export const testStreamPrefix = `herald_test_p${process.pid}`;

/**
 * Starts `herald start ARGS` and resolves once /readyz answers 200, or, for a role without an HTTP
 * port (worker, scheduler, relay), once its output holds the pino message `readyLog` (the process
 * then logs at info).
 */
export async function spawnHerald(args: string[], env: Record<string, string> = {},
  o: { readyLog?: string; readyTimeoutMs?: number; /** Another build's CLI (a benchmark's "before"). */ cli?: string } = {}): Promise<HeraldProcess> {
  const port = o.readyLog === undefined ? Number(args[args.indexOf('--port') + 1]) : undefined;
  const child = spawn(process.execPath, [...(process.env.HERALD_NODE_FLAGS?.split(' ').filter(Boolean) ?? []), '--enable-source-maps', o.cli ?? cli, 'start', ...args], {
    env: { ...process.env, HERALD_LOG_LEVEL: o.readyLog === undefined ? 'warn' : 'info', HERALD_NATS_STREAM_PREFIX: testStreamPrefix, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const keep = (d: Buffer) => { out = (out + d.toString()).slice(-20_000); };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  const url = port === undefined ? '' : `http://127.0.0.1:${port}`;
  const readyTimeoutMs = o.readyTimeoutMs ?? 30_000;
  const deadline = Date.now() + readyTimeoutMs;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`herald exited with ${child.exitCode}:\n${out}`);
    const ok = o.readyLog === undefined
      ? await fetch(url + '/readyz').then((r) => r.ok, () => false)
      : out.includes(`"msg":"${o.readyLog}`);
    if (ok) break;
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`herald did not become ready in ${readyTimeoutMs / 1000} s:\n${out}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    child,
    url,
    output: () => out,
    kill9: async () => {
      child.kill('SIGKILL');
      await exited;
    },
    stop: async () => {
      child.kill('SIGTERM');
      return exited;
    },
  };
}
