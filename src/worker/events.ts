/**
 * Typed lifecycle events: the seam between the work and its observation. Workers emit; metrics and
 * logs subscribe in observability/. The work never imports prom-client.
 */
import { EventEmitter } from 'node:events';
import type { OutcomeKind } from '../domain/outcome.js';

export interface HeraldEventMap {
  /** One provider attempt finished. */
  'delivery:attempt': [{ channel: string; outcome: OutcomeKind; latencyMs: number }];
  /** A delivery reached its final status. */
  'delivery:final': [{ channel: string; status: string }];
  /** A delivery's earlier provider call ended in a crash before its outcome was recorded. */
  'delivery:ambiguous': [{ channel: string; resent: boolean }];
  'message:accepted': [{ projectId: string }];
}

export type HeraldEvents = EventEmitter<HeraldEventMap>;

export function createEvents(): HeraldEvents {
  return new EventEmitter<HeraldEventMap>();
}
