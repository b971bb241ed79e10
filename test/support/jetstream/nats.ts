/**
 * Test helpers for the JetStream backend: is a JetStream server reachable, a private nats-server a
 * test can stop and restart, and removing a fixture's streams.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';

export const sharedNatsUrl = process.env.NATS_URL ?? 'nats://127.0.0.1:4222';

/** Undefined when a JetStream-enabled server answers at `url`, else what is wrong. */
export async function jetStreamProblem(url: string): Promise<string | undefined> {
  try {
    const nc = await connect({ servers: url, timeout: 1_000, reconnect: false });
    try {
      if (!nc.info?.jetstream) return `the server at ${url} runs without JetStream (start it with -js)`;
      const m = await nc.request('$JS.API.INFO', '', { timeout: 1_000 });
      const err = m.json<{ error?: { description?: string } }>().error;
      return err ? `JetStream at ${url} answered: ${err.description ?? 'error'}` : undefined;
    } finally {
      await nc.close();
    }
  } catch (err) {
    return `no NATS server at ${url} (${(err as Error).message})`;
  }
}

/** Removes every stream whose name starts with the fixture's prefix. */
export async function deleteStreams(url: string, prefix: string): Promise<void> {
  const nc = await connect({ servers: url, timeout: 2_000, reconnect: false });
  try {
    const jsm = await jetstreamManager(nc);
    for await (const name of jsm.streams.names()) {
      if (name.startsWith(prefix)) await jsm.streams.delete(name);
    }
  } finally {
    await nc.close();
  }
}

export interface PrivateNats {
  url: string;
  port: number;
  /** Stops the server (SIGKILL by default: a crash, not a goodbye). */
  stop(signal?: NodeJS.Signals): Promise<void>;
  /** Starts it again on the same port with the same store directory. */
  start(): Promise<void>;
  /** Stops it and removes its store. */
  destroy(): Promise<void>;
}

/** True when a `nats-server` binary is on PATH. */
export async function natsServerInstalled(): Promise<boolean> {
  return new Promise((resolve) => {
    const p = spawn('nats-server', ['--version'], { stdio: 'ignore' });
    p.once('error', () => resolve(false));
    p.once('exit', (code) => resolve(code === 0));
  });
}

/** A nats-server of our own (`nats-server -js -p PORT -sd DIR`), started now unless `started: false`. */
export async function privateNats(port: number, o: { started?: boolean } = {}): Promise<PrivateNats> {
  const dir = await mkdtemp(join(tmpdir(), 'herald-nats-'));
  const url = `nats://127.0.0.1:${port}`;
  let child: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();

  const stop = async (signal: NodeJS.Signals = 'SIGKILL') => {
    if (!child || child.exitCode !== null) return;
    child.kill(signal);
    await exited;
    child = undefined;
  };
  const start = async () => {
    let out = '';
    const c = spawn('nats-server', ['-js', '-a', '127.0.0.1', '-p', String(port), '-sd', dir], { stdio: ['ignore', 'pipe', 'pipe'] });
    child = c;
    c.stdout!.on('data', (d: Buffer) => void (out += d.toString()));
    c.stderr!.on('data', (d: Buffer) => void (out += d.toString()));
    exited = new Promise((resolve) => c.once('exit', () => resolve()));
    const deadline = Date.now() + 10_000;
    while (!(await jetStreamProblem(url).then((p) => p === undefined))) {
      if (c.exitCode !== null || Date.now() > deadline) {
        await stop();
        throw new Error(`nats-server on port ${port} did not start:\n${out}`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  if (o.started !== false) await start();
  return {
    url,
    port,
    stop,
    start,
    destroy: async () => {
      await stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
