/**
 * The SMTP account of a sandbox (its `email` endpoint and issued credentials), for projects without
 * their own. The shape is spelled out rather than taken from the sandbox link, so providers never
 * depend on anything of the sandbox's.
 */
import type { SmtpAccount } from './client.js';

export interface SandboxSmtpLink {
  endpoints: { email: string };
  credentials: { email: { username: string; password: string; dkim: { domain: string; selector: string; private_key_pem: string } } };
}

export function sandboxSmtpAccount(link: SandboxSmtpLink): SmtpAccount {
  const url = new URL(link.endpoints.email);
  if (url.protocol !== 'smtp:') throw new Error(`the sandbox's email endpoint is not smtp://: ${link.endpoints.email}`);
  const c = link.credentials.email;
  return {
    // URL keeps the brackets of an IPv6 host; a socket wants the bare address.
    host: url.hostname.replace(/^\[(.*)\]$/, '$1'),
    port: Number(url.port),
    security: 'starttls',
    username: c.username,
    password: c.password,
    dkim: { domain: c.dkim.domain, selector: c.dkim.selector, privateKeyPem: c.dkim.private_key_pem },
  };
}
