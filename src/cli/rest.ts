/**
 * What the CLI's commands that talk to a running Herald share: its URL (--url) and the project's
 * REST key (HERALD_API_KEY: never a flag, which `ps` would show), and one call that turns Herald's
 * error body into a line a person can read.
 */
import { ConfigError } from '../config.js';

export function restSettings(o: { url: string | undefined; apiKey: string | undefined }, command: string) {
  if (!o.url) throw new ConfigError(`${command} needs --url URL (the running Herald, e.g. http://127.0.0.1:8080)`);
  if (!o.apiKey) throw new ConfigError(`${command} needs the project's REST key in HERALD_API_KEY`);
  return { base: o.url.replace(/\/$/, ''), headers: { authorization: `Bearer ${o.apiKey}` } };
}

/** Herald's answer as JSON, or a ConfigError naming the call and Herald's error code. */
export async function call<T>(base: string, headers: Record<string, string>, method: string, path: string, init: RequestInit = {}): Promise<T> {
  const res = await request(base, headers, method, path, init);
  const text = await res.text();
  return (text ? JSON.parse(text) : undefined) as T;
}

/** The raw answer of a call that succeeded (a download streams its body). */
export async function request(base: string, headers: Record<string, string>, method: string, path: string, init: RequestInit = {}): Promise<Response> {
  let res: Response;
  try {
    res = await fetch(base + path, { ...init, method, headers: { ...headers, ...(init.headers as Record<string, string>) } });
  } catch (err) {
    const cause = (err as { cause?: { message?: string } }).cause?.message;
    throw new ConfigError(`${method} ${base}${path} failed: ${cause ?? (err as Error).message}`);
  }
  if (!res.ok) {
    const text = await res.text();
    let why = text;
    try {
      const e = (JSON.parse(text) as { error: { code: string; message: string } }).error;
      why = `${e.code}: ${e.message}`;
    } catch { /* not Herald's error shape */ }
    throw new ConfigError(`${method} ${path} answered ${res.status}: ${why}`);
  }
  return res;
}
