/**
 * One side of one channel of bench/channels.ts, in a process of its own so that its peak RSS is
 * its own: links the sandbox, builds the sender, sends `--warmup` messages (connections, tokens,
 * JIT), then times `--messages` more with at most `--concurrency` in flight, and prints one JSON
 * line (ChannelRun) on stdout.
 *
 *   node dist/bench/support/channel-run.js --channel apns --side herald|library --sandbox-url URL
 *        --messages N --warmup N --concurrency N
 */
import { parseArgs } from 'node:util';
import { linkSandbox } from '../../src/sandbox-link.js';
import { pool, summarize } from './stats.js';
import type { BenchSender, Channel } from './channel-workload.js';

export interface ChannelRun {
  /** Timed messages the sender saw accepted, and the others. */
  accepted: number;
  failed: number;
  /** Warm-up messages that failed (connections being opened), not part of the figures. */
  warmupFailed: number;
  /** The first reason a failure gave, timed or not. */
  firstFailure?: string | undefined;
  seconds: number;
  /** CPU time (user + system) the process spent per timed message: a sender's cost even when the simulator sets the pace. */
  cpuMsPerMessage: number;
  p50Ms: number;
  p99Ms: number;
  /** The process's peak resident memory (getrusage ru_maxrss), warm-up included. */
  peakRssMiB: number;
}

const { values } = parseArgs({
  options: {
    channel: { type: 'string' }, side: { type: 'string' }, 'sandbox-url': { type: 'string' },
    messages: { type: 'string' }, warmup: { type: 'string' }, concurrency: { type: 'string' },
  },
});
const channel = values.channel as Channel;
const messages = Number(values.messages);
const warmup = Number(values.warmup);
const concurrency = Number(values.concurrency);

const link = await linkSandbox(values['sandbox-url']!);
// Only this side's code is loaded (each module loads its channel's code on demand).
const sender: BenchSender = values.side === 'herald'
  ? await (await import('./herald-senders.js')).heraldSender(channel, link)
  : await (await import('./library-senders.js')).librarySender(channel, link);

let failed = 0;
let warmupFailed = 0;
let firstFailure: string | undefined;
const latencies: number[] = [];
const send = async (i: number, timed: boolean) => {
  const t0 = performance.now();
  const why = await sender.send(i);
  if (timed) latencies.push(performance.now() - t0);
  if (why === undefined) return;
  if (timed) failed++;
  else warmupFailed++;
  firstFailure ??= why;
};

await pool(warmup, concurrency, (i) => send(i, false));
const cpu = process.cpuUsage();
const started = performance.now();
await pool(messages, concurrency, (i) => send(warmup + i, true));
const seconds = (performance.now() - started) / 1000;
const { user, system } = process.cpuUsage(cpu);
await sender.close();

const { p50, p99 } = summarize(latencies);
const run: ChannelRun = {
  accepted: messages - failed, failed, warmupFailed, firstFailure, seconds, cpuMsPerMessage: (user + system) / 1000 / messages,
  p50Ms: p50, p99Ms: p99, peakRssMiB: process.resourceUsage().maxRSS / 1024,
};
console.log(JSON.stringify(run));
process.exit(0);
