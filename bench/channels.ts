/**
 * `npm run bench -- channels`: each channel's sender driven straight at its simulator in the
 * sandbox, beside the library users would otherwise pick, against the same simulator in the same
 * run (bench/support/library-senders.ts says which and how each is set up):
 *
 *   APNs     Herald's HTTP/2 sender        vs @parse/node-apn
 *   FCM      Herald's HTTP/2 sender        vs firebase-admin send() (its HTTP/1.1 path; see there)
 *   Web Push Herald's sender               vs the web-push package
 *   email    Herald's sender (on nodemailer's pool, with DKIM) vs nodemailer's pool with defaults
 *   SMS      Herald's sender               vs a plain https keep-alive loop (no library named)
 *
 * Every side runs in a process of its own (bench/support/channel-run.ts) and the sandbox in
 * another, so a side's messages/s and peak RSS are its own and the simulators' CPU counts against
 * neither. Both sides send the same messages (channel-workload.ts), the same count, with the same
 * number in flight, after the same warm-up. A side's own count of accepted messages is checked
 * against the simulator's records.
 *
 * Per side: messages/s; p50/p99 of one send, from the call to the answer (queueing inside the
 * sender included); CPU ms per message, which unlike messages/s holds still when the simulator sets
 * the pace or other work takes the cores (2 here: the sender and the sandbox each have about one);
 * and the process's peak RSS. Beside them, the sandbox's CPU ms per message: when it times
 * messages/s comes near 1,000 ms, the simulator, not the sender, set the pace.
 *
 * Options: --channels apns,fcm,webpush,email,sms --messages N (per channel: 20000 for APNs and FCM,
 *          10000 for Web Push and SMS, 3000 for email) --warmup N (500) --concurrency N (200)
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { packageRoot } from '../src/paths.js';
import { linkSandbox } from '../src/sandbox-link.js';
import { peakRssMiB, spawnSandbox, type SandboxProcess } from './support/processes.js';
import { nodeFlags } from './support/herald-roles.js';
import { cpuSeconds } from './support/cpu.js';
import { allRecords, clearDeliveries } from './support/sandbox-records.js';
import { printTable, saveResult, type Row } from './support/report.js';
import { channels, type Channel } from './support/channel-workload.js';
import { libraryNames } from './support/library-senders.js';
import type { ChannelRun } from './support/channel-run.js';

const { values } = parseArgs({
  options: {
    channels: { type: 'string', default: channels.join(',') },
    messages: { type: 'string' },
    warmup: { type: 'string', default: '500' },
    concurrency: { type: 'string', default: '200' },
  },
});
const selected = values.channels.split(',') as Channel[];
for (const c of selected) if (!channels.includes(c)) throw new Error(`unknown channel ${c}: one of ${channels.join(', ')}`);
const warmup = Number(values.warmup);
const concurrency = Number(values.concurrency);

/** A few seconds to half a minute per side on a 2-core machine: SMTP with DKIM and web-push are the slow ones. */
const defaultMessages: Record<Channel, number> = { apns: 20_000, fcm: 20_000, webpush: 10_000, email: 3_000, sms: 10_000 };
const messagesOf = (c: Channel) => (values.messages ? Number(values.messages) : defaultMessages[c]);

/** The issue's targets: Herald ≥ N× the library's messages/s with lower peak RSS. SMS has no library to beat. */
const targets: Partial<Record<Channel, number>> = { apns: 2, fcm: 2, webpush: 4, email: 2 };

const notes: Record<Channel, string> = {
  apns: 'both HTTP/2 with token auth; Herald\'s pool opens up to 4 connections, node-apn one session',
  fcm: 'firebase-admin sends to a fixed host: its HTTP/2 batch API (sendEach) cannot be pointed at the simulator without '
    + 'patching it; its one-message send() (HTTP/1.1 through the public httpAgent option) can, so that is what is measured',
  webpush: 'web-push signs a new VAPID JWT for every message and uses HTTP/1.1 on Node\'s global agent; Herald caches the JWT and uses HTTP/2',
  email: 'both sides are nodemailer\'s pool (Herald keeps its defaults: 5 connections, 100 messages each), both DKIM-sign the same '
    + 'message: the ratio is what Herald adds (message building, rate limiting, outcome mapping)',
  sms: 'no library is named for SMS and twilio is not installed: the baseline is the least a client can do, the same form '
    + 'POSTed on 50 kept-alive connections (Herald\'s per-account cap)',
};

interface Side {
  run: ChannelRun;
  /** Records the simulator accepted for this side, warm-up included. */
  simulatorAccepted: number;
  /** The sandbox's CPU time per message sent (warm-up included): how hard this side made the simulator work. */
  sandboxCpuMsPerMessage: number;
}

const rate = (s: Side) => s.run.accepted / s.run.seconds;

async function runSide(sandbox: SandboxProcess, caFile: string, channel: Channel, side: 'herald' | 'library'): Promise<Side> {
  const messages = messagesOf(channel);
  const sandboxCpu = () => cpuSeconds(sandbox.child.pid!).then((s) => s ?? NaN);
  const sandboxCpuBefore = await sandboxCpu();
  const child = spawn(process.execPath, [
    ...nodeFlags(), '--enable-source-maps', join(packageRoot, 'dist', 'bench', 'support', 'channel-run.js'),
    '--channel', channel, '--side', side, '--sandbox-url', sandbox.url,
    '--messages', String(messages), '--warmup', String(warmup), '--concurrency', String(concurrency),
  ], {
    // Libraries that take no CA option (web-push on the global agent) trust the sandbox's this way.
    env: { ...process.env, NODE_EXTRA_CA_CERTS: caFile },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => { out += d.toString(); });
  const code = await new Promise<number | null>((r) => child.once('exit', r));
  const line = out.trim().split('\n').pop() ?? '';
  if (code !== 0 || !line.startsWith('{')) throw new Error(`${channel} ${side} exited with ${code}: ${out}`);
  const run = JSON.parse(line) as ChannelRun;
  const sandboxCpuMsPerMessage = ((await sandboxCpu()) - sandboxCpuBefore) * 1000 / (warmup + messages);
  const simulatorAccepted = (await allRecords(sandbox.url, warmup + messages, channel)).length;
  await clearDeliveries(sandbox.url);
  return { run, simulatorAccepted, sandboxCpuMsPerMessage };
}

function row(channel: Channel, sender: string, s: Side): Row {
  const r = s.run;
  const failures = [r.failed && `${r.failed} timed`, r.warmupFailed && `${r.warmupFailed} of the warm-up`].filter(Boolean);
  return {
    channel, sender, 'messages/s': rate(s), 'p50 ms': r.p50Ms, 'p99 ms': r.p99Ms, 'CPU ms/msg': r.cpuMsPerMessage, 'peak RSS MiB': r.peakRssMiB,
    'sandbox CPU ms/msg': s.sandboxCpuMsPerMessage,
    // What the simulator recorded as accepted, of what the sender saw accepted (warm-up included).
    'simulator accepted': `${s.simulatorAccepted}/${warmup - r.warmupFailed + r.accepted}`,
    failed: failures.length ? `${failures.join(', ')}; first: ${r.firstFailure}` : undefined,
  };
}

function comparison(channel: Channel, herald: Side, library: Side): Pick<Row, 'Herald ÷ library' | 'target'> {
  const speed = rate(herald) / rate(library);
  const cpu = herald.run.cpuMsPerMessage / library.run.cpuMsPerMessage;
  const memory = herald.run.peakRssMiB / library.run.peakRssMiB;
  const target = targets[channel];
  return {
    'Herald ÷ library': `${speed.toFixed(2)}× msgs/s, ${cpu.toFixed(2)}× CPU/msg, ${memory.toFixed(2)}× RSS`,
    target: target === undefined ? 'none set'
      : `≥ ${target}× and lower RSS: ${speed >= target && memory < 1 ? 'met' : 'not met'}`,
  };
}

console.log(`# channels benchmark: ${selected.map((c) => `${c} ${messagesOf(c)}`).join(', ')} messages per side, `
  + `${warmup} warm-up, ${concurrency} in flight; each side and the sandbox in its own process`);
const rows: Row[] = [];
const sandbox = await spawnSandbox();
const dir = await mkdtemp(join(tmpdir(), 'herald-bench-'));
try {
  const caFile = join(dir, 'sandbox-ca.pem');
  await writeFile(caFile, (await linkSandbox(sandbox.url)).caPem);
  for (const channel of selected) {
    const herald = await runSide(sandbox, caFile, channel, 'herald');
    const library = await runSide(sandbox, caFile, channel, 'library');
    rows.push({ ...row(channel, 'Herald', herald), ...comparison(channel, herald, library) });
    rows.push(row(channel, libraryNames[channel], library));
  }
  rows.push({ channel: 'sandbox', sender: 'simulators\' process', 'peak RSS MiB': await peakRssMiB(sandbox.child.pid!) });
} finally {
  await sandbox.stop();
  await rm(dir, { recursive: true, force: true });
}
printTable(rows);
for (const c of selected) console.log(`- ${c}: ${notes[c]}`);
console.log(`results: ${await saveResult('channels', { rows, notes: Object.fromEntries(selected.map((c) => [c, notes[c]])) })}`);
process.exit(0);
