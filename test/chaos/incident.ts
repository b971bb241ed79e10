/**
 * The seed platform's incident, replayed (`npm run chaos`; the 2024-11-07 postmortem:
 * the message-queue cluster went away, accepted API
 * calls were "enqueued but not processed", 16% of API calls failed).
 *
 * A 3-node NATS cluster, PostgreSQL, 2 API processes, 2 worker processes and the sandbox. A client
 * sends 20,000 transactional messages with idempotency keys at a steady pace, retrying failed calls,
 * while a nemesis: kills -9 a NATS node and restarts it; freezes the job stream's leader (SIGSTOP)
 * for 30 s; kills -9 a worker and an API process and restarts them; stops the whole NATS cluster
 * for 60 s. Then it waits for the backlog to drain and checker.ts judges the history against the
 * sandbox's records. Exits 1 on any loss, duplicate or unexpected delivery, or an incomplete run.
 *
 * Everything lands in test/chaos/results/<run>/: history.jsonl, sandbox-records.jsonl, report.txt,
 * report.json and every process's log. Environment: CHAOS_SEED (replay the nemesis's choices),
 * CHAOS_MESSAGES, CHAOS_RATE, CHAOS_FAULTS (a comma-separated subset of nats-kill, leader-freeze,
 * process-kill, cluster-stop), CHAOS_CLUSTER_STOP_SIGNAL (SIGTERM by default, SIGKILL for a crash
 * of the whole cluster), HERALD_TEST_DATABASE_URL (the PostgreSQL server; default 127.0.0.1:5432).
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { packageRoot } from '../../src/paths.js';
import { consumerStates, drain, logFindings, recoveryProblems } from './after-run.js';
import { check, formatReport } from './checker.js';
import { runClient, type ClientStats } from './client.js';
import { deployHerald, type Deployment } from './deployment.js';
import { openHistory, readHistory, type HistoryWriter } from './history.js';
import type { ClusterNode } from './nats-cluster.js';
import type { ManagedProcess } from './processes.js';
import { fetchSandboxRecords, writeRecords } from './sandbox-records.js';

const processStart = Date.now();
const env = (k: string, dflt: string) => process.env[k] || dflt;
const seed = Number(env('CHAOS_SEED', String(Math.floor(Math.random() * 2 ** 31))));
const messages = Number(env('CHAOS_MESSAGES', '20000'));
/** 75/s spreads 20,000 messages over ~270 s, so load runs through every fault and ~60 s past the last. */
const ratePerSec = Number(env('CHAOS_RATE', '75'));
const clusterStopSignal = env('CHAOS_CLUSTER_STOP_SIGNAL', 'SIGTERM') as NodeJS.Signals;
/** Which faults run (all by default; a subset isolates one when a run fails). */
const faultNames = ['nats-kill', 'leader-freeze', 'process-kill', 'cluster-stop'] as const;
const enabled = new Set(env('CHAOS_FAULTS', faultNames.join(',')).split(',').map((f) => f.trim()));
for (const f of enabled) {
  if (!(faultNames as readonly string[]).includes(f)) throw new Error(`CHAOS_FAULTS: unknown fault "${f}" (known: ${faultNames.join(', ')})`);
}
/** The issue's limit is 10 minutes; leave room for the teardown and the report. */
const budgetMs = 570_000;

/**
 * The nemesis's schedule, in ms after the first send. Each fault gets 20–40 s of normal running
 * after it before the next, so each one's drain is mostly its own (the kill of a worker needs ack_wait,
 * 30 s, before its held jobs are handed out again).
 */
const schedule = {
  natsNodeKill: { at: 20_000, downMs: 15_000 },
  leaderFreeze: { at: 60_000, forMs: 30_000 },
  processKill: { at: 110_000, downMs: 5_000 },
  clusterStop: { at: 150_000, downMs: 60_000 },
};

/**
 * Herald settings for the run, each for a reason:
 * - HERALD_MAX_ATTEMPTS=100 (the highest allowed): on JetStream an attempt is a delivery count, and a
 *   job handed out again after a lost ack or a lease that ran out during an outage counts one; the
 *   faults must never dead-letter a message (that would be a loss the test did not cause Herald to
 *   make on its own). With the default backoff, 100 attempts are hours of retrying.
 * - HERALD_LOG_LEVEL=info: low volume (no request logs), and the reconnects and relay back-offs
 *   in the logs are the evidence a failing run needs.
 * - HERALD_RECONCILE_AFTER=60: a 2.9 cluster killed at once can forget jobs it acknowledged; the
 *   scheduler re-enqueues their work from PostgreSQL after this many seconds (default 600, longer
 *   than the whole run).
 */
const heraldEnv = { HERALD_MAX_ATTEMPTS: '100', HERALD_LOG_LEVEL: 'info', HERALD_RECONCILE_AFTER: '60' };

/** Mulberry32: a small seeded generator, so a failing run's choices can be replayed with CHAOS_SEED. */
function seededRandom(s: number): () => number {
  let a = s >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const secs = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

interface Run {
  d: Deployment;
  history: HistoryWriter;
  t0: number;
  say(text: string, data?: unknown): void;
}

/** Writes a fault's window to the history around `inject` and `heal`. */
async function fault(r: Run, name: string, inject: () => Promise<string>, heal: () => Promise<string>): Promise<void> {
  r.history.append({ kind: 'fault', name, phase: 'start', t: Date.now() });
  r.say(`fault: ${name}: ${await inject()}`);
  const healed = await heal();
  r.history.append({ kind: 'fault', name, phase: 'end', t: Date.now() });
  r.say(`fault over: ${name}: ${healed}`);
}

/** What each API's /readyz says (the database and the queue answer): evidence of a process that gave up. */
async function readiness(r: Run, what: string): Promise<void> {
  const answers = await Promise.all(r.d.apis.map(async (a) => {
    const res = await fetch(a.url + '/readyz', { signal: AbortSignal.timeout(3_000) }).catch((e: Error) => e);
    return `${a.name} ${res instanceof Error ? res.message : `${res.status} ${await res.text()}`}`;
  }));
  r.say(`${what}: /readyz ${answers.join('; ')}`);
}

/** Waits for the job stream to have a leader and current replicas again, then asks the APIs. */
async function recovered(r: Run, what: string): Promise<void> {
  const started = Date.now();
  const s = await r.d.nats.waitForStreamHealthy(r.d.stream, 60_000).catch((err: Error) => {
    r.say(`${what}: the stream did not become healthy: ${err.message}`);
    return undefined;
  });
  if (s) r.say(`${what}: stream healthy again ${secs(Date.now() - started)} after, leader ${s.leader}`);
  // Herald's own reconnect takes a moment more (nats.js's reconnect wait, then its stream check).
  await sleep(5_000);
  await readiness(r, what);
}

/** 1. kill -9 one NATS node and start it again after a while. */
async function killNatsNode(r: Run, victim: ClusterNode): Promise<void> {
  const { nats, stream } = r.d;
  await fault(r, `kill -9 NATS node ${victim.name}`, async () => {
    const before = await nats.streamInfo(stream);
    await nats.stop(victim, 'SIGKILL');
    return `killed (stream leader was ${before?.leader})`;
  }, async () => {
    await sleep(schedule.natsNodeKill.downMs);
    await nats.start(victim);
    return `${victim.name} restarted after ${secs(schedule.natsNodeKill.downMs)}`;
  });
  await recovered(r, `after restarting ${victim.name}`);
}

/** 2. Freeze the job stream's leader (SIGSTOP), then SIGCONT. */
async function freezeLeader(r: Run): Promise<void> {
  const { nats, stream } = r.d;
  const leaderName = (await nats.waitForStreamHealthy(stream, 30_000)).leader!;
  const leader = nats.node(leaderName);
  await fault(r, `SIGSTOP stream leader ${leaderName} for ${secs(schedule.leaderFreeze.forMs)}`, async () => {
    nats.freeze(leader);
    return 'frozen';
  }, async () => {
    await sleep(schedule.leaderFreeze.forMs / 2);
    r.say(`during the freeze the stream is led by ${(await nats.streamInfo(stream))?.leader ?? 'nobody'}`);
    await sleep(schedule.leaderFreeze.forMs / 2);
    nats.thaw(leader);
    return 'SIGCONT sent';
  });
  await recovered(r, `after thawing ${leaderName}`);
}

/** 3. kill -9 one worker and one API process, then start them again. */
async function killProcesses(r: Run, worker: ManagedProcess, api: ManagedProcess): Promise<void> {
  await fault(r, `kill -9 ${worker.name} and ${api.name}`, async () => {
    await Promise.all([worker.kill('SIGKILL'), api.kill('SIGKILL')]);
    return 'killed';
  }, async () => {
    await sleep(schedule.processKill.downMs);
    await Promise.all([worker.start(), api.start()]);
    return `both restarted and ready after ${secs(schedule.processKill.downMs)} down`;
  });
  await readiness(r, `after restarting ${worker.name} and ${api.name}`);
}

/** 4. Stop the whole NATS cluster, then bring it back. */
async function stopCluster(r: Run): Promise<void> {
  const { nats } = r.d;
  await fault(r, `whole NATS cluster down (${clusterStopSignal}) for ${secs(schedule.clusterStop.downMs)}`, async () => {
    await Promise.all(nats.nodes.map((n) => nats.stop(n, clusterStopSignal)));
    return 'all three nodes stopped';
  }, async () => {
    await sleep(schedule.clusterStop.downMs);
    const started = Date.now();
    await Promise.all(nats.nodes.map((n) => nats.start(n)));
    await nats.waitForJetStream(60_000);
    return `restarted; JetStream answered ${secs(Date.now() - started)} after the start`;
  });
  await recovered(r, 'after the cluster restart');
}

/** The issue's four faults, in order, each at its time in `schedule` (or later, if the one before ran long). */
async function nemesis(r: Run, random: () => number): Promise<void> {
  const at = async (ms: number) => {
    const wait = r.t0 + ms - Date.now();
    if (wait > 0) await sleep(wait);
  };
  // Drawn whichever faults run, so a subset (CHAOS_FAULTS) makes the same choices as the full run.
  const victim = r.d.nats.nodes[Math.floor(random() * r.d.nats.nodes.length)]!;
  const worker = r.d.workers[Math.floor(random() * r.d.workers.length)]!;
  const api = r.d.apis[Math.floor(random() * r.d.apis.length)]!;
  if (enabled.has('nats-kill')) {
    await at(schedule.natsNodeKill.at);
    await killNatsNode(r, victim);
  }
  if (enabled.has('leader-freeze')) {
    await at(schedule.leaderFreeze.at);
    await freezeLeader(r);
  }
  if (enabled.has('process-kill')) {
    await at(schedule.processKill.at);
    await killProcesses(r, worker, api);
  }
  if (enabled.has('cluster-stop')) {
    await at(schedule.clusterStop.at);
    await stopCluster(r);
  }
}

async function main(): Promise<number> {
  const runName = `${new Date(processStart).toISOString().replace(/[:.]/g, '-')}-seed${seed}`;
  const dir = join(packageRoot, 'test', 'chaos', 'results', runName);
  const logDir = join(dir, 'logs');
  await mkdir(logDir, { recursive: true });
  const history = openHistory(join(dir, 'history.jsonl'));
  const lines: string[] = [];
  const say = (text: string, data?: unknown) => {
    const line = `[${secs(Date.now() - processStart).padStart(7)}] ${text}`;
    lines.push(line);
    process.stdout.write(line + '\n');
    history.append({ kind: 'note', t: Date.now(), text, ...(data !== undefined ? { data } : {}) });
  };
  say(`chaos run ${runName}: ${messages} messages at ${ratePerSec}/s, seed ${seed} (CHAOS_SEED=${seed} replays the choices); results in ${dir}`);

  const serverUrl = process.env.HERALD_TEST_DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/postgres';
  const d = await deployHerald({ logDir, apis: 2, workers: 2, env: heraldEnv, serverUrl });
  let failed = true;
  try {
    const ready = await d.nats.waitForStreamHealthy(d.stream, 30_000);
    say(`deployed in ${secs(Date.now() - processStart)}: database ${d.databaseName}, NATS ${d.nats.nodes.map((n) => `${n.name}=${n.url}`).join(' ')}, ` +
      `stream ${d.stream} led by ${ready.leader}, ${d.apis.map((a) => `${a.name}=${a.url}`).join(' ')}, ${d.workers.map((w) => w.name).join(' ')}`,
      { settings: heraldEnv, schedule, clusterStopSignal });

    const t0 = Date.now();
    const r: Run = { d, history, t0, say: (text, data) => say(`+${secs(Date.now() - t0)} ${text}`, data) };
    const progress = async (s: ClientStats) => {
      const db = await d.state().catch(() => undefined);
      r.say(`client: started ${s.started}, acknowledged ${s.acknowledged}, failed calls ${s.failedCalls}` +
        (db ? `; database: ${db.messages} messages, ${db.sent} sent, ${db.queued} queued, outbox ${db.outbox}` : ''));
    };
    const [stats] = await Promise.all([
      runClient({
        apis: d.apis, restKey: d.restKey, messages, ratePerSec,
        // Enough for ~5 s of sends waiting on a slow answer without slowing the pace.
        maxInFlight: 400,
        // A send commits in milliseconds; 5 s is an API that is not answering.
        callTimeoutMs: 5_000,
        giveUpAt: processStart + budgetMs - 150_000,
        keyPrefix: `chaos-${seed}`,
        history,
      }, (s) => void progress(s)),
      nemesis(r, seededRandom(seed)),
    ]);
    r.say(`client done: ${stats.acknowledged} acknowledged, ${stats.gaveUp} given up, ${stats.calls} calls (${stats.failedCalls} failed) ` +
      `in ${secs(stats.endedAt - stats.startedAt)}`);

    const drainStart = Date.now();
    const { state, drained, why } = await drain(d, processStart + budgetMs - 40_000);
    const drainMs = Date.now() - drainStart;
    r.say(drained ? `backlog drained ${secs(drainMs)} after the last send` : `the backlog did NOT drain: ${why}`, state);
    // A late copy (a job handed out again after its ack was lost) would land within moments of the drain.
    await sleep(3_000);
    const records = await fetchSandboxRecords(d.sandboxUrl);
    await writeRecords(join(dir, 'sandbox-records.jsonl'), records);
    const finalState = await d.state();
    const consumers = await consumerStates(d);
    r.say(`final state: ${JSON.stringify(finalState)}; consumers ${JSON.stringify(consumers)}`, { finalState, consumers });
    const unrecovered = await recoveryProblems(d);
    r.say(unrecovered.length ? `NOT recovered: ${unrecovered.join('; ')}` : 'every Herald process is ready and connected to NATS');
    await history.close();

    const report = check(await readHistory(history.path), records);
    const problems = [...report.failures];
    if (finalState.deadJobs) problems.push(`${finalState.deadJobs} jobs were dead-lettered`);
    problems.push(...unrecovered.map((u) => `Herald did not recover: ${u}`));
    if (!drained) problems.push(`the backlog did not drain (${why}): ${state.notFannedOut} messages not fanned out, ${state.queued} deliveries queued, ${state.outbox} jobs in the outbox`);
    const findings = await logFindings(logDir, t0);
    const text = formatReport({ ...report, failures: problems, pass: problems.length === 0 }, { t0 }) +
      (findings.length ? `\n\nerrors in Herald's logs (level error and above, by process: transient ones are expected during faults; a failure's cause shows here):\n${findings.join('\n')}` : '');
    const timings = `timings: deploy ${secs(t0 - processStart)}, sends ${secs(stats.endedAt - stats.startedAt)}, ` +
      `drain after the last send ${secs(drainMs)}, total so far ${secs(Date.now() - processStart)}`;
    process.stdout.write(`\n${text}\n${timings}\n`);
    await writeFile(join(dir, 'report.txt'), `${lines.join('\n')}\n\n${text}\n${timings}\n`);
    await writeFile(join(dir, 'report.json'), JSON.stringify({ seed, messages, ratePerSec, schedule, heraldEnv, finalState, consumers, report }, null, 1));
    failed = problems.length > 0;
  } finally {
    await d.close({ keep: failed });
    say(failed
      ? `kept for inspection: database ${d.databaseName}, NATS stores ${d.nats.nodes.map((n) => n.dir).join(' ')}`
      : 'database and NATS stores removed');
    say(`finished in ${secs(Date.now() - processStart)}: ${failed ? 'FAIL' : 'PASS'}`);
  }
  return failed ? 1 : 0;
}

// The issue's 10 minutes, enforced: a run that hangs fails instead of holding CI.
const watchdog = setTimeout(() => {
  process.stderr.write(`chaos: still running after ${secs(Date.now() - processStart)}; giving up (every child process is killed)\n`);
  process.exit(1);
}, 595_000 - (Date.now() - processStart));

main().then((code) => {
  clearTimeout(watchdog);
  process.exit(code);
}, (err: unknown) => {
  process.stderr.write(`chaos: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
