/** Herald as a real child process (`node dist/src/cli/main.js`), for tests that kill -9 it. */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { packageRoot } from '../../src/paths.js';

const cli = join(packageRoot, 'dist', 'src', 'cli', 'main.js');

/**
 * A port that is free now, taken outside Linux's ephemeral range (32768–60999, net.ipv4.
 * ip_local_port_range): a port the kernel handed out with listen(0) is also the kind it hands to
 * outgoing connections (to PostgreSQL, NATS, the simulators), and one of those took a test's port
 * between this check and Herald's listen (EADDRINUSE). Below the range only another test's pick
 * can collide, one chance in thousands, and callers that can retry do.
 */
export async function freePort(): Promise<number> {
  for (let tries = 0; ; tries++) {
    const port = 20_000 + Math.floor(Math.random() * 12_000);
    if (await canListen(port)) return port;
    if (tries > 50) throw new Error('no free port below the ephemeral range');
  }
}

function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
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
