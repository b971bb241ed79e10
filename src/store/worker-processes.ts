/**
 * The registry of live worker processes (migration 0010): each process's heartbeat refreshes its
 * row and learns how many are alive, in one statement.
 */
import type { Sql } from 'postgres';

export interface WorkerProcess {
  id: string;
  host: string;
  pid: number;
}

/**
 * Records that `me` is alive and returns how many worker processes are (itself included): those
 * seen within `liveMs`. Rows dead for ten times that are removed on the way.
 */
export async function heartbeat(sql: Sql, me: WorkerProcess, liveMs: number): Promise<number> {
  const [row] = await sql<{ live: number }[]>`
    with seen as (
      insert into worker_processes (id, host, pid) values (${me.id}, ${me.host}, ${me.pid})
      on conflict (id) do update set seen_at = now()),
    gone as (
      delete from worker_processes where seen_at < now() - ${liveMs * 10} * interval '1 millisecond')
    select 1 + count(*)::int as live from worker_processes
    where seen_at >= now() - ${liveMs} * interval '1 millisecond' and id <> ${me.id}`;
  return row!.live;
}

/** A stopping process leaves at once, so the others take its share without waiting for it to go stale. */
export async function leave(sql: Sql, id: string): Promise<void> {
  await sql`delete from worker_processes where id = ${id}`;
}
