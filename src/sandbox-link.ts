/**
 * Where Herald finds the sandbox it delivers to when a project has no real credentials: the
 * simulators running in this process (`--sandbox`) or in another one (`--sandbox-url`, the
 * inspection URL of `herald sandbox`).
 */
import type { FcmServiceAccountInput } from './domain/provider-credentials.js';
import { originKey, portOfUrl } from './domain/network-address.js';

export interface SandboxLink {
  inspectionUrl: string;
  endpoints: { apns: string; fcm: string; webpush: string; email: string; sms: string };
  credentials: {
    apns: { team_id: string; key_id: string; private_key_pem: string; topic: string };
    /** The service account the FCM simulator issued; its token_uri is the simulator's OAuth endpoint. */
    fcm: { service_account: FcmServiceAccountInput };
    /** The SMTP simulator's login, and the DKIM key it verifies mail from `dkim.domain` against. */
    email: { username: string; password: string; dkim: { domain: string; selector: string; private_key_pem: string } };
    /**
     * The SMS simulator's general account (`AC` + 32 hex) and its auth token, for clients other
     * than Herald's projects: it signs no project's webhooks. Projects use `smsAccountFor`.
     */
    sms: { account_sid: string; auth_token: string };
  };
  /**
   * The SMS simulator's account for one project: derived from the project id, so the token that
   * signs a project's status callbacks and inbound messages verifies that project's webhooks only.
   */
  smsAccountFor(projectId: string): Promise<{ account_sid: string; auth_token: string }>;
  /** The simulators' self-signed certificate, trusted for sandbox connections only. */
  caPem: string;
}

/**
 * The sandbox's simulators as `host:port` origins: the private addresses Herald may connect to for
 * every project without --allow-private-networks (domain/network-address.ts), and no others of the
 * sandbox's (not its inspection API).
 */
export function sandboxOrigins(link: Pick<SandboxLink, 'endpoints'>): string[] {
  return Object.values(link.endpoints).map((e) => {
    const url = new URL(e);
    return originKey(url.hostname, portOfUrl(url));
  });
}

/** Reads a running sandbox's endpoints, credentials and certificate from its inspection API. */
export async function linkSandbox(inspectionUrl: string): Promise<SandboxLink> {
  const base = inspectionUrl.replace(/\/$/, '');
  const get = async (path: string, as: 'json' | 'text') => {
    const res = await fetch(base + path);
    if (!res.ok) throw new Error(`sandbox at ${base} answered ${res.status} for ${path}`);
    return as === 'json' ? res.json() : res.text();
  };
  const [endpoints, credentials, caPem] = await Promise.all([
    get('/_sandbox/endpoints', 'json'),
    get('/_sandbox/credentials', 'json'),
    get('/_sandbox/ca.pem', 'text'),
  ]);
  const smsAccounts = new Map<string, Promise<{ account_sid: string; auth_token: string }>>();
  const smsAccountFor = (projectId: string) => {
    let a = smsAccounts.get(projectId);
    if (!a) {
      // Webhooks name any project id they like: the cache is bounded, not one entry per id ever seen.
      if (smsAccounts.size >= 10_000) smsAccounts.clear();
      a = get(`/_sandbox/credentials/sms/${encodeURIComponent(projectId)}`, 'json') as Promise<{ account_sid: string; auth_token: string }>;
      smsAccounts.set(projectId, a);
      a.catch(() => smsAccounts.delete(projectId)); // asked again next time
    }
    return a;
  };
  return { inspectionUrl: base, endpoints, credentials, caPem, smsAccountFor } as SandboxLink;
}
