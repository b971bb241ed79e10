/**
 * The provider sandbox: simulators that answer as the real providers do (APNs now; FCM, Web Push,
 * email and SMS later, each in its own file here) and the inspection API that shows what they
 * received and makes them fail on purpose (docs/sandbox.md).
 * Runs inside Herald (`herald start --sandbox`) or alone (`herald sandbox`).
 */
import type { Logger } from 'pino';
import type { AddressInfo } from 'node:net';
import type { SandboxLink } from '../sandbox-link.js';
import { createApnsSigningKey, createEmailCredentials, createTlsIdentity } from './credentials.js';
import { createDeliveryRecords, defaultMaxRecords } from './records.js';
import { createFaults } from './faults.js';
import { startApnsSimulator, urlHost } from './apns.js';
import { startFcmSimulator } from './fcm.js';
import { startWebPushSimulator } from './webpush.js';
import { startSmtpSimulator } from './smtp.js';
import { startSmsSimulator } from './sms.js';
import { buildInspectionApp } from './inspection.js';

export interface Sandbox extends SandboxLink {
  /** Stops the simulators (dropping their connections) and the inspection API. */
  close(): Promise<void>;
}

export interface SandboxOptions {
  /** Where the inspection API and the simulators listen; 127.0.0.1 unless told otherwise. */
  host?: string;
  /** The inspection API's port; 0 picks a free one. The simulators always take free ports. */
  port: number;
  log: Logger;
  /** The simulators' time (provider-token age and refresh, received_at): tests move it. */
  clock?: () => number;
  /** How many delivery records to keep before forgetting the oldest (default 1,000,000). */
  maxRecords?: number;
}

export async function startSandbox(opts: SandboxOptions): Promise<Sandbox> {
  const host = opts.host ?? '127.0.0.1';
  const clock = opts.clock ?? Date.now;
  const tls = await createTlsIdentity(host);
  const apnsKey = createApnsSigningKey();
  const records = createDeliveryRecords(opts.maxRecords ?? defaultMaxRecords);
  const faults = createFaults();

  const shared = { host, tls, records, faults, clock, log: opts.log };
  const simulators: { close(): Promise<void> }[] = [];
  const closeSimulators = () => Promise.all(simulators.map((s) => s.close())).then(() => undefined);
  let app: ReturnType<typeof buildInspectionApp> | undefined;
  let endpoints: Sandbox['endpoints'];
  let credentials: Sandbox['credentials'];
  let smsAccountFor: (projectId: string) => { account_sid: string; auth_token: string };
  try {
    const apns = await startApnsSimulator({ ...shared, key: apnsKey });
    simulators.push(apns);
    const fcm = await startFcmSimulator(shared);
    simulators.push(fcm);
    const webpush = await startWebPushSimulator(shared);
    simulators.push(webpush);
    const emailCredentials = createEmailCredentials();
    const smtp = await startSmtpSimulator({ ...shared, credentials: emailCredentials });
    simulators.push(smtp);
    const sms = await startSmsSimulator(shared);
    simulators.push(sms);
    endpoints = { apns: apns.url, fcm: fcm.url, webpush: webpush.url, email: smtp.url, sms: sms.url };
    credentials = {
      apns: { team_id: apnsKey.team_id, key_id: apnsKey.key_id, private_key_pem: apnsKey.private_key_pem, topic: apnsKey.topic },
      fcm: { service_account: fcm.serviceAccount },
      email: { username: emailCredentials.username, password: emailCredentials.password, dkim: emailCredentials.dkim },
      sms: sms.credentials,
    };
    smsAccountFor = sms.accountFor;
    app = buildInspectionApp({ records, faults, endpoints, credentials, caPem: tls.certPem, smsInbound: sms.sendInbound, smsAccountFor });
    await app.listen({ host, port: opts.port });
  } catch (err) {
    await Promise.allSettled([closeSimulators(), app?.close()]);
    throw err;
  }
  const { port } = app.server.address() as AddressInfo;
  const inspectionUrl = `http://${urlHost(host)}:${port}`;
  opts.log.debug({ inspectionUrl, endpoints }, 'sandbox started');

  let closing: Promise<void> | undefined;
  return {
    inspectionUrl,
    endpoints,
    credentials,
    smsAccountFor: async (projectId) => smsAccountFor(projectId),
    caPem: tls.certPem,
    close: () => (closing ??= Promise.all([closeSimulators(), app.close()]).then(() => undefined)),
  };
}
