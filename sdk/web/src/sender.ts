/**
 * Sends the outbox to Herald, oldest first, until it is empty or Herald cannot be reached; then waits
 * (exponential backoff with full jitter, or Herald's Retry-After) and tries again. One pass at a time
 * per origin: passes run under a Web Lock, so two tabs (or a tab and the service worker) never send
 * the same entries concurrently.
 */
import { fullJitterMs } from './backoff.js';
import { clearDropReport, head, installId, installationBodyKey, pendingDropReport, readMeta, remove, type DropReport } from './outbox.js';
import { maxBatch, nextRequest } from './requests.js';
import { post, type SendResult } from './transport.js';
import type { InstallationBody, StoredConfig } from './types.js';

const lockName = 'herald-outbox';

/** The event that reports dropped entries (see docs/sdk-web.md). */
export const dropEventName = 'herald_sdk_dropped';

export interface PassState {
  /** Consecutive failed attempts: the exponent of the next backoff. */
  attempt: number;
  /** Entries up to this sequence number go one per request, to find the one a batch was refused for. */
  isolateThrough: number;
  warnedUnauthorized: boolean;
  /** The entry an installation_not_found last re-registered the installation for (once per entry). */
  reregisteredFor: number;
}

export function newPassState(): PassState {
  return { attempt: 0, isolateThrough: -1, warnedUnauthorized: false, reregisteredFor: -1 };
}

/** Runs `work` holding the origin-wide outbox lock (or directly where Web Locks are missing). */
export function withOutboxLock<T>(work: () => Promise<T>): Promise<T> {
  const locks = (globalThis.navigator as Navigator | undefined)?.locks;
  // request() resolves with what the callback resolves with (the lib types nest the promise).
  return locks ? (locks.request(lockName, work) as unknown as Promise<T>) : work();
}

/**
 * One pass: sends until the outbox is empty (resolves undefined) or a send must wait (resolves the
 * delay). Call it under withOutboxLock.
 */
export async function sendPass(config: StoredConfig, state: PassState): Promise<number | undefined> {
  const install = await installId();
  const delayAfter = (r: Exclude<SendResult, { kind: 'acknowledged' } | { kind: 'rejected' }>): number => {
    if (r.kind === 'unauthorized') {
      if (!state.warnedUnauthorized) {
        state.warnedUnauthorized = true;
        console.warn(`Herald: the SDK key was refused (HTTP ${r.status}); check Herald.init({ sdkKey }). Events stay queued.`);
      }
      return config.retryCapMs;
    }
    const backoff = fullJitterMs(state.attempt++, config.retryBaseMs, config.retryCapMs);
    return r.afterMs !== undefined ? Math.max(r.afterMs, backoff) : backoff;
  };

  const report = await pendingDropReport();
  if (report) {
    const r = await post(config, '/v1/sdk/events', { install_id: install, events: [dropEvent(report)] });
    if (r.kind === 'retry' || r.kind === 'unauthorized') return delayAfter(r);
    // Refused for good: counting the report as dropped would only make another report.
    await clearDropReport();
  }

  for (;;) {
    const entries = await head(maxBatch);
    const isolate = (entries[0]?.seq ?? Infinity) <= state.isolateThrough;
    const req = nextRequest(entries, install, isolate ? 1 : maxBatch);
    if (!req) return undefined;
    const seqs = req.entries.map((e) => e.seq);
    const r = await post(config, req.path, req.body);
    switch (r.kind) {
      case 'acknowledged':
        state.attempt = 0;
        await remove(seqs);
        break;
      case 'rejected':
        if (r.code === 'installation_not_found' && state.reregisteredFor !== seqs[0]) {
          // The registration was dropped (outbox bound) or erased on the server: register again
          // from the last known body, then retry the same entries.
          state.reregisteredFor = seqs[0] ?? -1;
          const body = await readMeta<InstallationBody>(installationBodyKey);
          if (body) {
            const again = await post(config, '/v1/sdk/installations', { install_id: install, ...body });
            if (again.kind === 'acknowledged') break;
            if (again.kind !== 'rejected') return delayAfter(again);
          }
        }
        if (r.code === 'identity_required' || r.code === 'invalid_identity_token') {
          console.warn(`Herald: ${r.code}: pass Herald.identify(customId, { identityToken }) with the token your server made. The entry is dropped.`);
        }
        if (seqs.length > 1) {
          // One bad entry must not cost the whole batch: resend these one by one.
          state.isolateThrough = seqs[seqs.length - 1] ?? -1;
        } else {
          await remove(seqs, 1);
        }
        break;
      case 'retry':
      case 'unauthorized':
        return delayAfter(r);
    }
  }
}

function dropEvent(report: DropReport) {
  return {
    id: report.id,
    name: dropEventName,
    time: new Date().toISOString(),
    attributes: { count: report.overflow + report.rejected, overflow: report.overflow, rejected: report.rejected },
  };
}

export interface Sender {
  /**
   * Starts a pass now, or right after the current one; while a backoff is pending it waits for it,
   * unless `now` (the browser came back online, the page is being hidden).
   */
  kick(now?: boolean): void;
  /** Resolves when a pass ends with the outbox empty. */
  idle(): Promise<void>;
}

/** The page's sender loop: one per page; passes are serialized across tabs by the lock. */
export function createSender(config: StoredConfig): Sender {
  const state = newPassState();
  let running = false;
  let again = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let waiters: (() => void)[] = [];

  const run = async () => {
    running = true;
    try {
      do {
        again = false;
        let delay: number | undefined;
        try {
          delay = await withOutboxLock(() => sendPass(config, state));
        } catch (err) {
          // IndexedDB itself failed (quota, private mode quirks): try again later rather than stop.
          console.warn('Herald: outbox error', err);
          delay = fullJitterMs(state.attempt++, config.retryBaseMs, config.retryCapMs);
        }
        if (delay !== undefined) {
          timer = setTimeout(() => {
            timer = undefined;
            kick();
          }, delay);
          return;
        }
        const done = waiters;
        waiters = [];
        for (const w of done) w();
      } while (again);
    } finally {
      running = false;
    }
  };

  function kick(now = false): void {
    if (running) {
      again = true;
      return;
    }
    if (timer !== undefined) {
      if (!now) return;
      clearTimeout(timer);
      state.attempt = 0;
    }
    timer = undefined;
    void run();
  }

  return {
    kick,
    idle: () => new Promise<void>((resolve) => {
      waiters.push(resolve);
      kick(true);
    }),
  };
}
