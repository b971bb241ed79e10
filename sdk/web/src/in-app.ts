/**
 * In-app messages, the part that lives in herald.js: it loads the chunk herald-in-app.js
 * (in-app-chunk.ts: the sync, the triggers, the display check, the rendering) once init has
 * started the sender, off the page's critical path, and hands it what the page does. The chunk
 * imports nothing: it gets the outbox and the app's settings from here (InAppHost), so herald.js
 * stays within its size budget.
 */
import { installId, readMeta, writeMeta } from './outbox.js';
import type { Sender } from './sender.js';
import type { HeraldOptions, InAppEngine, InAppHost, OutboxItem, StoredConfig } from './types.js';

/** What the app set through Herald.onInAppMessage and Herald.inApp.suppress; the chunk reads it. */
export const inAppState: InAppHost['state'] = { suppressed: false, listener: null };

let engine: Promise<InAppEngine | undefined> | undefined;

export function startInApp(config: StoredConfig, options: HeraldOptions, sender: Sender, enqueue: (item: OutboxItem) => Promise<void>): void {
  const host: InAppHost = { config, installId, readMeta, writeMeta, enqueue, idle: () => sender.idle(), state: inAppState };
  engine = import(options.inAppUrl ?? new URL('herald-in-app.js', import.meta.url).href).then(
    (m: { start(host: InAppHost): InAppEngine }) => m.start(host),
    // Not loaded (offline, a wrong inAppUrl): no in-app messages on this page; the rest works.
    (err: unknown) => void console.warn('Herald in-app:', err),
  );
}

/** Hands the engine (once loaded) an event, a sync or a nudge. */
export function inAppEngine(f: (e: InAppEngine) => void): void {
  void engine?.then((e) => e && f(e));
}
