/**
 * The library a Node user would otherwise pick for each channel, configured as its documentation
 * shows and pointed at the sandbox's simulators, behind the interface bench/channels.ts drives every
 * side through. Each library is loaded only by the process that measures it, so no side's peak RSS
 * carries another's code.
 *
 *  apns    @parse/node-apn: one Provider (token auth), as bench/transactional.ts (c) uses it.
 *  fcm     firebase-admin `messaging().send()`: see firebaseAdmin() for how far it can be pointed at
 *          the simulator.
 *  webpush the `web-push` package: sendNotification with vapidDetails, its default agent.
 *  email   nodemailer's own pool with default settings (5 connections, 100 messages each).
 *  sms     no library: a plain node:https keep-alive loop posting the form (twilio is not installed).
 */
import https from 'node:https';
import tls from 'node:tls';
import { createRequire } from 'node:module';
import type { SandboxLink } from '../../src/sandbox-link.js';
import { dkimSignedHeaders } from '../../src/domain/email-message.js';
import { newToken } from './workload.js';
import {
  apnsPayload, email, fcmToken, notification, pushTtlSeconds, sms, webPushPayload, webPushSubscriptions, type BenchSender, type Channel,
} from './channel-workload.js';

const reasonOf = (err: unknown): string => (err instanceof Error ? err.message : String(err));

/** Runs `send` and answers its error's message, or undefined when it resolved. */
const attempt = (send: () => Promise<unknown>): Promise<string | undefined> => send().then(() => undefined, reasonOf);

export const libraryNames: Record<Channel, string> = {
  apns: '@parse/node-apn',
  fcm: 'firebase-admin send()',
  webpush: 'web-push',
  email: 'nodemailer pool, defaults',
  sms: 'plain https keep-alive loop',
};

export function librarySender(channel: Channel, link: SandboxLink): Promise<BenchSender> {
  switch (channel) {
    case 'apns': return nodeApn(link);
    case 'fcm': return firebaseAdmin(link);
    case 'webpush': return webPush(link);
    case 'email': return nodemailerPool(link);
    case 'sms': return plainHttps(link);
  }
}

/** A refusal carries APNs' answer; a push that got none, the error. */
interface NodeApnFailure {
  status?: number;
  response?: { reason?: string };
  error?: Error;
}

interface NodeApn {
  Provider: new (o: object) => { send(n: object, t: string): Promise<{ failed: NodeApnFailure[] }>; shutdown(): void };
  Notification: new (o: object) => object;
}

async function nodeApn(link: SandboxLink): Promise<BenchSender> {
  const apn = createRequire(import.meta.url)('@parse/node-apn') as NodeApn;
  const c = link.credentials.apns;
  const url = new URL(link.endpoints.apns);
  const provider = new apn.Provider({
    token: { key: c.private_key_pem, keyId: c.key_id, teamId: c.team_id },
    // node-apn connects to https://${address} with its `port` option passed on to TLS.
    address: url.hostname, port: Number(url.port), ca: link.caPem, production: true,
  });
  // The fields of apnsPayload and of Herald's headers (herald-senders.ts).
  const note = new apn.Notification({
    alert: notification, topic: c.topic, pushType: 'alert', priority: 10, collapseId: 'bench',
    expiry: Math.floor(Date.now() / 1000) + pushTtlSeconds,
  });
  if (JSON.stringify(note) !== apnsPayload) throw new Error(`node-apn builds another payload: ${JSON.stringify(note)}`);
  return {
    async send() {
      const r = await provider.send(note, newToken());
      const f = r.failed[0];
      return f && (f.error ? `no answer: ${f.error.message}` : `${f.status}: ${f.response?.reason}`);
    },
    close: async () => provider.shutdown(),
  };
}

/**
 * firebase-admin sends to a fixed host, https://fcm.googleapis.com, and has no emulator setting for
 * messaging. Its batch API (sendEach) goes over HTTP/2 sessions it opens itself with no hook, so it
 * cannot be pointed at the simulator without patching the library. Its one-message `send()` goes
 * over HTTP/1.1 through the app's public `httpAgent` option, so an agent that dials the simulator
 * instead of Google (verifying the sandbox's certificate for the simulator's own address) reaches
 * it unchanged. Its service-account credential, cert(), cannot: it asks Google's token URL whatever
 * the account's token_uri says, so a credential of our own takes the token from the simulator's
 * OAuth endpoint (Herald's grant, fetched once; not part of what is timed).
 */
async function firebaseAdmin(link: SandboxLink): Promise<BenchSender> {
  const { initializeApp, deleteApp } = await import('firebase-admin/app');
  const { getMessaging } = await import('firebase-admin/messaging');
  const { createAccessTokens } = await import('../../src/providers/fcm/access-token.js');
  const account = link.credentials.fcm.service_account;
  const tokens = createAccessTokens({ ca: link.caPem });
  const simulator = new URL(link.endpoints.fcm);
  // As Node's global agent, which firebase-admin uses when given none: keep-alive, no socket limit.
  const agent = new https.Agent({ keepAlive: true });
  agent.createConnection = () => tls.connect({ host: simulator.hostname, port: Number(simulator.port), ca: link.caPem });
  const app = initializeApp({
    projectId: account.project_id,
    httpAgent: agent,
    credential: {
      getAccessToken: async () => {
        const t = await tokens.get(account);
        return { access_token: t.token, expires_in: Math.floor((t.expiresAtMs - Date.now()) / 1000) };
      },
    },
  }, `bench-${process.pid}`);
  const messaging = getMessaging(app);
  return {
    send: (i) => attempt(() => messaging.send({ token: fcmToken(i), notification })),
    close: async () => {
      await deleteApp(app);
      agent.destroy();
    },
  };
}

/**
 * web-push signs a new VAPID JWT and encrypts for every message, and sends with https.request on
 * Node's global agent (keep-alive since Node 19) unless given another: the sandbox's certificate
 * reaches it through NODE_EXTRA_CA_CERTS, which bench/channels.ts sets for every side.
 */
async function webPush(link: SandboxLink): Promise<BenchSender> {
  const webpush = (await import('web-push')).default;
  const vapidDetails = { subject: 'mailto:bench@herald.example', ...webpush.generateVAPIDKeys() };
  const subscription = webPushSubscriptions(link.endpoints.webpush, 'web-push');
  return {
    send: (i) => attempt(() => webpush.sendNotification(subscription(i), webPushPayload, { vapidDetails, TTL: pushTtlSeconds, urgency: 'normal' })),
    close: async () => https.globalAgent.destroy(),
  };
}

/**
 * nodemailer's pool as its documentation starts one: host, port, login and the sandbox's CA, every
 * other setting its default. The same message as Herald's (herald-senders.ts): the same parts,
 * one-click unsubscribe headers and DKIM key over the same header fields, which the simulator
 * requires (nodemailer's default list lacks List-Unsubscribe-Post, nodemailer/nodemailer#1654).
 */
async function nodemailerPool(link: SandboxLink): Promise<BenchSender> {
  const nodemailer = (await import('nodemailer')).default;
  const url = new URL(link.endpoints.email);
  const c = link.credentials.email;
  const transport = nodemailer.createTransport({
    pool: true, host: url.hostname, port: Number(url.port), auth: { user: c.username, pass: c.password }, tls: { ca: link.caPem },
  });
  const from = { name: email.fromName, address: email.fromAddress(c.dkim.domain) };
  const dkim = { domainName: c.dkim.domain, keySelector: c.dkim.selector, privateKey: c.dkim.private_key_pem, headerFieldNames: dkimSignedHeaders };
  return {
    send: (i) => attempt(() => transport.sendMail({
      from, to: email.to(i), subject: email.subject, text: email.text, html: email.html, dkim,
      headers: { 'List-Unsubscribe': `<${email.unsubscribeUrl}>`, 'List-Unsubscribe-Post': 'List-Unsubscribe=One-Click' },
    })),
    close: async () => transport.close(),
  };
}

/**
 * The least an SMS client can do: POST the Messages form on kept-alive connections, as many as
 * Herald's sender opens per account (defaultMaxConcurrentPerAccount), and read the answer.
 */
async function plainHttps(link: SandboxLink): Promise<BenchSender> {
  const { defaultMaxConcurrentPerAccount } = await import('../../src/providers/sms/client.js');
  const c = link.credentials.sms;
  const agent = new https.Agent({ keepAlive: true, maxSockets: defaultMaxConcurrentPerAccount, ca: link.caPem });
  const url = new URL(`${link.endpoints.sms}/2010-04-01/Accounts/${c.account_sid}/Messages.json`);
  const authorization = 'Basic ' + Buffer.from(`${c.account_sid}:${c.auth_token}`).toString('base64');
  const post = (form: string) => new Promise<string | undefined>((resolve) => {
    const req = https.request(url, {
      method: 'POST', agent,
      headers: { authorization, 'content-type': 'application/x-www-form-urlencoded', 'content-length': Buffer.byteLength(form) },
    }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (b: Buffer) => chunks.push(b));
      res.on('end', () => resolve(res.statusCode === 201 ? undefined : `${res.statusCode}: ${Buffer.concat(chunks).toString('utf8')}`));
    });
    req.on('error', (err) => resolve(reasonOf(err)));
    req.end(form);
  });
  return {
    send: (i) => post(new URLSearchParams({ To: sms.to(i), From: sms.from, Body: sms.body }).toString()),
    close: async () => agent.destroy(),
  };
}
