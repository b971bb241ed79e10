/**
 * Where Herald finds the sandbox it delivers to when a project has no real credentials: the
 * simulators running in this process (`--sandbox`) or in another one (`--sandbox-url`, the
 * inspection URL of `herald sandbox`).
 */
import type { FcmServiceAccountJson } from './sandbox/fcm-auth.js';
import { originKey, portOfUrl } from './domain/network-address.js';

export interface SandboxLink {
  inspectionUrl: string;
  endpoints: { apns: string; fcm: string; webpush: string; email: string; sms: string };
  credentials: {
    apns: { team_id: string; key_id: string; private_key_pem: string; topic: string };
    /** The service account the FCM simulator issued; its token_uri is the simulator's OAuth endpoint. */
    fcm: { service_account: FcmServiceAccountJson };
    /** The SMTP simulator's login, and the DKIM key it verifies mail from `dkim.domain` against. */
    email: { username: string; password: string; dkim: { domain: string; selector: string; private_key_pem: string } };
    /** The Twilio account the SMS simulator issued (`AC` + 32 hex) and its auth token. */
    sms: { account_sid: string; auth_token: string };
  };
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
  return { inspectionUrl: base, endpoints, credentials, caPem } as SandboxLink;
}
