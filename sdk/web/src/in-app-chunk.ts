/**
 * herald-in-app.js: the in-app messages' engine, loaded by herald.js after init (in-app.ts). It
 * syncs with Herald (at start, every `sync_after_seconds` while the page is open, and when told:
 * after identify and logout), fires the synced messages' triggers (the session's start, as soon as
 * synced, a tracked event that matches), shows one message at a time, the highest priority first,
 * after the display check when the message asks for it, and records impressions, clicks and
 * dismissals in the outbox (sent to /v1/sdk/in-app/events with their entries' ids, so each counts
 * once however often it is re-sent). It imports nothing at run time: the outbox and the app's
 * settings come from herald.js (InAppHost); what it bundles (transport, ids) is its own copy.
 */
import { newId } from './ids.js';
import { eventMatches } from './in-app-filter.js';
import { renderMessage } from './in-app-render.js';
import { request } from './transport.js';
import type { InAppEngine, InAppEventBody, InAppHost, InAppMessage } from './types.js';

/** Per message id: how often this browser showed it, and when last (capping, in IndexedDB). */
const displaysKey = 'in_app_displays';
type Displays = Record<string, [count: number, lastMs: number]>;

export function start(host: InAppHost): InAppEngine {
  const { config, state } = host;
  let messages: InAppMessage[] = [];
  /** Triggered and not yet shown, highest priority first (the earlier first among equals). */
  let waiting: InAppMessage[] = [];
  /** The message being checked or shown: one at a time. */
  let current: InAppMessage | undefined;
  /** Session-start and asap messages fire once per page load. */
  const fired = new Set<string>();
  let sessionStart = true;
  let timer: ReturnType<typeof setTimeout> | undefined;
  /** The latest sync: an event waits for it, so one tracked right after init meets the synced messages. */
  let last: Promise<unknown> = Promise.resolve();

  const queue = (m: InAppMessage) => {
    if (current?.id === m.id || waiting.some((w) => w.id === m.id)) return;
    waiting.push(m);
    // Array.prototype.sort is stable (ECMAScript 2019): equal priorities keep their order.
    waiting.sort((a, b) => b.priority - a.priority);
  };

  const update = (list: InAppMessage[]) => {
    messages = list;
    // A message no longer synced (stopped, ended, capped, no longer targeted) stops waiting; a new
    // version replaces the one that waits.
    const byId = new Map(list.map((m) => [m.id, m]));
    waiting = waiting.flatMap((w) => byId.get(w.id) ?? []);
    for (const m of list) {
      const type = m.trigger.type;
      if ((type === 'asap' || (type === 'session_start' && sessionStart)) && !fired.has(m.id)) {
        fired.add(m.id);
        queue(m);
      }
    }
    sessionStart = false;
    next();
  };

  const once = async () => {
    clearTimeout(timer);
    let wait = config.retryCapMs;
    try {
      const res = await request(config, '/v1/sdk/in-app/sync', { install_id: await host.installId() });
      if (res.ok) {
        const answer = (await res.json()) as { messages: InAppMessage[]; sync_after_seconds: number };
        wait = Math.max(1, answer.sync_after_seconds) * 1000;
        update(answer.messages);
      } else if (res.status < 500 && res.status !== 408 && res.status !== 429) {
        // Refused (a Herald without in-app messages, a revoked key): ask again much later.
        wait *= 10;
      }
    } catch (err) {
      console.warn('Herald in-app: sync failed', err);
    }
    timer = setTimeout(sync, wait);
  };

  function sync(): void {
    last = last.then(() => host.idle()).then(once);
  }

  /** Local capping (Herald's check counts the impressions it has; these may still be in the outbox). */
  const capped = async (m: InAppMessage, now: number): Promise<boolean> => {
    const seen = (await host.readMeta<Displays>(displaysKey))?.[m.id];
    const c = m.capping;
    if (!c || !seen) return false;
    return (c.max_displays !== undefined && seen[0] >= c.max_displays)
      || (c.min_interval_seconds !== undefined && now - seen[1] < c.min_interval_seconds * 1000);
  };

  /** The display check (POST /v1/sdk/in-app/check); a failed call does not show. */
  const allowed = async (m: InAppMessage): Promise<boolean> => {
    const now = Date.now();
    if ((m.ends_at && Date.parse(m.ends_at) <= now) || (await capped(m, now))) return false;
    if (!m.recheck) return true;
    try {
      const res = await request(config, '/v1/sdk/in-app/check', { install_id: await host.installId(), message_id: m.id, version: m.version });
      return res.ok && ((await res.json()) as { show?: unknown }).show === true;
    } catch {
      return false;
    }
  };

  const record = (m: InAppMessage, type: InAppEventBody['type'], buttonId?: string) =>
    host.enqueue({
      kind: 'in_app_event', id: newId(), message_id: m.id, version: m.version, type,
      ...(buttonId !== undefined ? { button_id: buttonId } : {}), time: new Date().toISOString(),
    });

  const counted = async (m: InAppMessage) => {
    const all = (await host.readMeta<Displays>(displaysKey)) ?? {};
    all[m.id] = [(all[m.id]?.[0] ?? 0) + 1, Date.now()];
    await host.writeMeta(displaysKey, all);
  };

  /** Shows `m` (the app's listener or the default rendering); resolves when it has ended. */
  const display = async (m: InAppMessage): Promise<void> => {
    let ended!: () => void;
    const over = new Promise<void>((resolve) => (ended = resolve));
    let impression: Promise<void> | undefined;
    let done = false;
    const end = async (type: 'click' | 'dismiss', buttonId?: string, then?: () => void): Promise<void> => {
      if (done) return;
      done = true;
      try {
        // After the impression, so the outbox holds them in order.
        await impression;
        await record(m, type, buttonId);
        then?.();
      } finally {
        ended();
      }
    };
    const listener = state.listener;
    if (listener) {
      let taken: boolean | void;
      try {
        taken = listener(m, { click: (id) => end('click', id), dismiss: () => end('dismiss') });
      } catch (err) {
        console.warn('Herald in-app: onInAppMessage listener failed', err);
        taken = false;
      }
      if (taken === false) return;
    } else {
      renderMessage(m, {
        // A dismiss button closes the message: a dismissal (Herald takes button ids with clicks only).
        button: (b) => void (b.action === 'url' && b.url ? end('click', b.id, () => go(b.url ?? '')) : end('dismiss')),
        close: () => void end('dismiss'),
      });
    }
    impression = record(m, 'impression');
    await Promise.all([impression, counted(m)]);
    await over;
  };

  function next(): void {
    if (current || state.suppressed) return;
    const m = waiting.shift();
    if (!m) return;
    current = m;
    void (async () => {
      if (!(await allowed(m))) return;
      // Suppressed, or no longer synced, during the check: it waits (or is gone).
      if (state.suppressed) return void waiting.unshift(m);
      if (!messages.some((x) => x.id === m.id)) return;
      await display(m);
    })().catch((err: unknown) => console.warn('Herald in-app:', err)).finally(() => {
      current = undefined;
      next();
    });
  }

  sync();
  return {
    sync,
    event: (name, attributes) => {
      void last.then(() => {
        for (const m of messages) {
          if (m.trigger.type === 'event' && m.trigger.event === name && eventMatches(m.trigger.where, attributes)) queue(m);
        }
        next();
      });
    },
    next,
  };
}

/** A button's URL, after its click is in the outbox; never one that would run script in the page. */
function go(url: string): void {
  let target: URL;
  try {
    target = new URL(url, location.href);
  } catch {
    return;
  }
  if (!/^(javascript|data|vbscript|blob|file):$/i.test(target.protocol)) location.assign(target.href);
}
