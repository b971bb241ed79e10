/**
 * Every simulator the sandbox can run, by the name a channel definition gives it (`simulator`,
 * src/channels/<name>/definition.ts): how to start it and what it issues. The sandbox starts the
 * ones the channel registry names (index.ts), so a new channel's simulator runs once its entry is
 * here and its channel is registered.
 */
import type { SandboxLink } from '../sandbox-link.js';
import { createApnsSigningKey, createEmailCredentials } from './credentials.js';
import type { InspectionDeps } from './inspection.js';
import type { SimulatorContext } from './request-io.js';
import { startApnsSimulator } from './apns.js';
import { startFcmSimulator } from './fcm.js';
import { startWebPushSimulator } from './webpush.js';
import { startSmtpSimulator } from './smtp.js';
import { startSmsSimulator } from './sms.js';

export type SimulatorName = keyof SandboxLink['endpoints'];
type Issued = SandboxLink['credentials'];

export interface RunningSimulator<N extends SimulatorName = SimulatorName> {
  /** Its base URL: the sandbox link's `endpoints[name]`. */
  url: string;
  /** What it issued a client, listed under its name by GET /_sandbox/credentials; none when a client needs none. */
  credentials: N extends keyof Issued ? Issued[N] : undefined;
  /** Routes of the inspection API that act through it (the SMS simulator's inbound messages and per-project accounts). */
  inspection?: Pick<InspectionDeps, 'smsInbound' | 'smsAccountFor'>;
  close(): Promise<void>;
}

export const simulators: { [N in SimulatorName]: (ctx: SimulatorContext) => Promise<RunningSimulator<N>> } = {
  async apns(ctx) {
    const key = createApnsSigningKey();
    const s = await startApnsSimulator({ ...ctx, key });
    return {
      url: s.url, close: () => s.close(),
      credentials: { team_id: key.team_id, key_id: key.key_id, private_key_pem: key.private_key_pem, topic: key.topic },
    };
  },
  async fcm(ctx) {
    const s = await startFcmSimulator(ctx);
    return { url: s.url, credentials: { service_account: s.serviceAccount }, close: () => s.close() };
  },
  async webpush(ctx) {
    const s = await startWebPushSimulator(ctx);
    return { url: s.url, credentials: undefined, close: () => s.close() };
  },
  async email(ctx) {
    const issued = createEmailCredentials();
    const s = await startSmtpSimulator({ ...ctx, credentials: issued });
    return {
      url: s.url, close: () => s.close(),
      credentials: { username: issued.username, password: issued.password, dkim: issued.dkim },
    };
  },
  async sms(ctx) {
    const s = await startSmsSimulator(ctx);
    return {
      url: s.url, credentials: s.credentials, close: () => s.close(),
      inspection: { smsInbound: s.sendInbound, smsAccountFor: s.accountFor },
    };
  },
};
