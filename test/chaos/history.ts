/**
 * The history of a chaos run, one JSON object per line (https://github.com/jepsen-io/jepsen: Jepsen-style
 * black-box histories, written while the run goes and checked offline by checker.ts).
 *
 * - `call`: one HTTP call of the client, written when it ends, with its start and end. A call is
 *   `ok` (a 2xx: the request is stored), `fail` (it certainly did nothing: the connection was
 *   refused, or a 4xx), or `info` (indeterminate, Jepsen's word: a timeout, a reset connection or a
 *   5xx may or may not have been stored, so the client retries with the same Idempotency-Key).
 * - `fault`: the nemesis starting or ending a fault; the checker pairs `start` and `end` by name.
 * - `note`: anything else worth keeping with the run (the seed, the settings, the cluster layout).
 *
 * Times are milliseconds since the epoch on this machine's clock, which the sandbox (on the same
 * machine) also uses for `received_at`.
 */
import { createReadStream, createWriteStream, type WriteStream } from 'node:fs';
import { createInterface } from 'node:readline';

export type CallResult = 'ok' | 'fail' | 'info';

export interface CallEvent {
  kind: 'call';
  /** The client's message: its Idempotency-Key, the same on every retry. */
  key: string;
  /** The recipient tokens of the message; each token belongs to one message only, so a provider
   *  record (which names only the token) maps back to its message. */
  tokens: string[];
  /** 1 for the first call of this key, 2 for its first retry... */
  attempt: number;
  /** Which server the call went to (a Herald API process's name). */
  target: string;
  start: number;
  end: number;
  /** The HTTP status, or null when no answer came. */
  status: number | null;
  /** The answer's body (for a 202: `{message_id}`). */
  body?: unknown;
  /** Why no answer came: an error code such as ECONNREFUSED, or "timeout". */
  error?: string;
  result: CallResult;
}

export interface FaultEvent {
  kind: 'fault';
  /** Unique per fault in a run, e.g. "kill -9 NATS node n2". */
  name: string;
  phase: 'start' | 'end';
  t: number;
  detail?: string;
}

export interface NoteEvent {
  kind: 'note';
  t: number;
  text: string;
  data?: unknown;
}

export type HistoryEvent = CallEvent | FaultEvent | NoteEvent;

export interface HistoryWriter {
  readonly path: string;
  append(e: HistoryEvent): void;
  close(): Promise<void>;
}

/** Appends events to a JSON-lines file as they happen. */
export function openHistory(path: string): HistoryWriter {
  const out: WriteStream = createWriteStream(path, { flags: 'a' });
  let closed = false;
  return {
    path,
    // After close (the run is being judged) late notes are dropped: the checker has read the file.
    append: (e) => void (closed || out.write(JSON.stringify(e) + '\n')),
    close: () => {
      closed = true;
      return new Promise<void>((resolve, reject) => out.end((err?: Error | null) => (err ? reject(err) : resolve())));
    },
  };
}

/** Reads a history file back; a torn last line (the writer was killed mid-write) is skipped. */
export async function readHistory(path: string): Promise<HistoryEvent[]> {
  const events: HistoryEvent[] = [];
  const lines = createInterface({ input: createReadStream(path), crlfDelay: Infinity });
  for await (const line of lines) {
    if (!line.trim()) continue;
    try {
      events.push(JSON.parse(line) as HistoryEvent);
    } catch {
      process.stderr.write(`history ${path}: skipped an unreadable line: ${line.slice(0, 80)}\n`);
    }
  }
  return events;
}
