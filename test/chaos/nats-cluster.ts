/**
 * A 3-node nats-server cluster on loopback for chaos tests: each node has its own client and route
 * ports and its own store folder, so a test can kill -9, freeze (SIGSTOP), thaw and restart any of
 * them, and ask JetStream which node leads a stream.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from '@nats-io/transport-node';
import { freePort } from '../support/process.js';

export interface ClusterNode {
  name: string;
  port: number;
  clusterPort: number;
  /** The HTTP monitoring port (`/connz`, `/jsz`). */
  monitorPort: number;
  url: string;
  dir: string;
  pid(): number | undefined;
  /** The process exists (it may be frozen). */
  running(): boolean;
  frozen(): boolean;
}

export interface StreamReplica {
  name: string;
  current: boolean;
  offline?: boolean;
  lag?: number;
}

export interface StreamClusterInfo {
  leader: string | undefined;
  replicas: StreamReplica[];
  messages: number;
}

export interface NatsCluster {
  nodes: ClusterNode[];
  /** Every node's client URL: the seed list Herald gets. */
  urls: string[];
  start(node: ClusterNode): Promise<void>;
  /** Sends `signal` and waits for the process to exit (SIGKILL: a crash; SIGTERM: a clean stop). */
  stop(node: ClusterNode, signal?: NodeJS.Signals): Promise<void>;
  freeze(node: ClusterNode): void;
  thaw(node: ClusterNode): void;
  /** Waits until JetStream answers account info (a meta leader exists) on some running node. */
  waitForJetStream(timeoutMs: number): Promise<void>;
  /** The stream's leader and replicas, or undefined when no node can answer now. */
  streamInfo(stream: string): Promise<StreamClusterInfo | undefined>;
  /** Waits until the stream has a leader and every other replica is online and current. */
  waitForStreamHealthy(stream: string, timeoutMs: number): Promise<StreamClusterInfo>;
  node(name: string): ClusterNode;
  /** One JetStream API request (`$JS.API.…`) to a node that can answer; rejects when none does. */
  request(subject: string): Promise<unknown>;
  /** The client connections of every node that answers its monitoring port: node and client name. */
  connections(): Promise<{ node: string; name: string }[]>;
  /** Kills every node; removes the store folders unless `keepStores`. */
  close(o?: { keepStores?: boolean }): Promise<void>;
}

/** A JetStream API request answers within a second on loopback unless its node is gone or frozen. */
const requestTimeoutMs = 2_000;
const pollMs = 250;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Starts three nodes and waits for a JetStream meta leader. Node logs go to `logDir/nats-<name>.log`. */
export async function startNatsCluster(o: { logDir: string; clusterName?: string; size?: number }): Promise<NatsCluster> {
  const size = o.size ?? 3;
  const clusterName = o.clusterName ?? 'herald-chaos';
  const nodes: (ClusterNode & { child?: ChildProcess; exited?: Promise<void>; paused: boolean })[] = [];
  for (let i = 1; i <= size; i++) {
    const port = await freePort();
    const clusterPort = await freePort();
    const monitorPort = await freePort();
    const dir = await mkdtemp(join(tmpdir(), `herald-chaos-nats-n${i}-`));
    const n = {
      name: `n${i}`, port, clusterPort, monitorPort, url: `nats://127.0.0.1:${port}`, dir, paused: false,
      child: undefined as ChildProcess | undefined, exited: undefined as Promise<void> | undefined,
      pid: () => n.child?.pid,
      running: () => n.child !== undefined && n.child.exitCode === null && n.child.signalCode === null,
      frozen: () => n.paused,
    };
    nodes.push(n);
  }
  const urls = nodes.map((n) => n.url);
  const routes = (self: string) => nodes.filter((n) => n.name !== self).map((n) => `nats://127.0.0.1:${n.clusterPort}`).join(',');
  const find = (node: ClusterNode) => {
    const n = nodes.find((x) => x.name === node.name);
    if (!n) throw new Error(`no node ${node.name}`);
    return n;
  };

  /** One short-lived connection to the nodes that can answer now (a frozen one would hang the connect). */
  const request = async (subject: string): Promise<unknown> => {
    const servers = nodes.filter((n) => n.running() && !n.paused).map((n) => n.url);
    if (!servers.length) return undefined;
    const nc = await connect({ servers, timeout: requestTimeoutMs, reconnect: false });
    try {
      const m = await nc.request(subject, '', { timeout: requestTimeoutMs });
      return m.json();
    } finally {
      await nc.close().catch(() => undefined);
    }
  };

  const start = async (node: ClusterNode) => {
    const n = find(node);
    if (n.running()) return;
    const log = createWriteStream(join(o.logDir, `nats-${n.name}.log`), { flags: 'a' });
    const child = spawn('nats-server', [
      '-js', '-a', '127.0.0.1', '-p', String(n.port), '-m', String(n.monitorPort), '-n', n.name, '-sd', n.dir,
      '--cluster_name', clusterName, '--cluster', `nats://127.0.0.1:${n.clusterPort}`, '--routes', routes(n.name),
    ], { stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout!.pipe(log, { end: false });
    child.stderr!.pipe(log, { end: false });
    n.child = child;
    n.paused = false;
    n.exited = new Promise((resolve) => child.once('exit', () => resolve()));
    child.once('exit', () => log.end());
    // Up when it takes a client connection (JetStream may still be electing: waitForJetStream).
    const deadline = Date.now() + 15_000;
    for (;;) {
      if (!n.running()) throw new Error(`nats-server ${n.name} exited at start; see ${o.logDir}/nats-${n.name}.log`);
      const up = await connect({ servers: n.url, timeout: 500, reconnect: false }).then((c) => c.close().then(() => true), () => false);
      if (up) return;
      if (Date.now() > deadline) throw new Error(`nats-server ${n.name} did not take connections within 15 s`);
      await sleep(100);
    }
  };

  const stop = async (node: ClusterNode, signal: NodeJS.Signals = 'SIGKILL') => {
    const n = find(node);
    if (!n.running()) return;
    if (n.paused && signal !== 'SIGKILL') n.child!.kill('SIGCONT'); // a frozen process cannot stop cleanly
    n.child!.kill(signal);
    await n.exited;
    n.paused = false;
  };

  const streamInfo = async (stream: string): Promise<StreamClusterInfo | undefined> => {
    try {
      const info = (await request(`$JS.API.STREAM.INFO.${stream}`)) as {
        error?: unknown; state?: { messages: number };
        cluster?: { leader?: string; replicas?: StreamReplica[] };
      } | undefined;
      if (!info || info.error) return undefined;
      return { leader: info.cluster?.leader, replicas: info.cluster?.replicas ?? [], messages: info.state?.messages ?? 0 };
    } catch {
      return undefined; // no node answered in time: the caller polls again
    }
  };

  const cluster: NatsCluster = {
    nodes,
    urls,
    start,
    stop,
    freeze: (node) => {
      const n = find(node);
      n.child?.kill('SIGSTOP');
      n.paused = true;
    },
    thaw: (node) => {
      const n = find(node);
      n.child?.kill('SIGCONT');
      n.paused = false;
    },
    async waitForJetStream(timeoutMs) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const info = await request('$JS.API.INFO').catch(() => undefined) as { error?: unknown } | undefined;
        if (info && !info.error) return;
        if (Date.now() > deadline) throw new Error(`JetStream had no meta leader within ${timeoutMs} ms`);
        await sleep(pollMs);
      }
    },
    streamInfo,
    request,
    async waitForStreamHealthy(stream, timeoutMs) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const s = await streamInfo(stream);
        if (s?.leader && s.replicas.length === size - 1 && s.replicas.every((r) => r.current && !r.offline)) return s;
        if (Date.now() > deadline) throw new Error(`stream ${stream} not healthy within ${timeoutMs} ms: ${JSON.stringify(s)}`);
        await sleep(pollMs);
      }
    },
    async connections() {
      const lists = await Promise.all(nodes.filter((n) => n.running() && !n.paused).map(async (n) => {
        const res = await fetch(`http://127.0.0.1:${n.monitorPort}/connz?limit=4096`, { signal: AbortSignal.timeout(requestTimeoutMs) });
        const body = (await res.json()) as { connections?: { name?: string }[] };
        return (body.connections ?? []).map((c) => ({ node: n.name, name: c.name ?? '' }));
      }));
      return lists.flat();
    },
    node: (name) => {
      const n = nodes.find((x) => x.name === name);
      if (!n) throw new Error(`no NATS node named ${name}`);
      return n;
    },
    async close(c = {}) {
      await Promise.all(nodes.map((n) => stop(n, 'SIGKILL')));
      if (!c.keepStores) await Promise.all(nodes.map((n) => rm(n.dir, { recursive: true, force: true })));
    },
  };
  try {
    await Promise.all(nodes.map((n) => start(n)));
    await cluster.waitForJetStream(30_000);
  } catch (err) {
    await cluster.close();
    throw err;
  }
  return cluster;
}

/** Kills every node of every cluster still running when the process exits (synchronously: 'exit'). */
export function killOnExit(cluster: NatsCluster): void {
  process.once('exit', () => {
    for (const n of cluster.nodes) {
      const pid = n.pid();
      if (pid && n.running()) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // already gone: nothing to clean up
        }
      }
    }
  });
}
