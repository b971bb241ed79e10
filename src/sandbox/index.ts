/**
 * The provider sandbox: simulators that answer as the real providers do (APNs now; FCM, Web Push,
 * email and SMS later, each in its own file here) and the inspection API that shows what they
 * received and makes them fail on purpose (shared/reference/sandbox-api.md, docs/sandbox.md).
 * Runs inside Herald (`herald start --sandbox`) or alone (`herald sandbox`).
 */
import type { Logger } from 'pino';
import type { AddressInfo } from 'node:net';
import type { SandboxLink } from '../sandbox-link.js';
import { createApnsSigningKey, createTlsIdentity } from './credentials.js';
import { createDeliveryRecords, defaultMaxRecords } from './records.js';
import { createFaults } from './faults.js';
import { startApnsSimulator, urlHost } from './apns.js';
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

  const apns = await startApnsSimulator({ host, tls, key: apnsKey, records, faults, clock, log: opts.log });
  const endpoints = { apns: apns.url };
  const credentials = {
    apns: { team_id: apnsKey.team_id, key_id: apnsKey.key_id, private_key_pem: apnsKey.private_key_pem, topic: apnsKey.topic },
  };
  const app = buildInspectionApp({ records, faults, endpoints, credentials, caPem: tls.certPem });
  try {
    await app.listen({ host, port: opts.port });
  } catch (err) {
    await apns.close();
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
    caPem: tls.certPem,
    close: () => (closing ??= Promise.all([apns.close(), app.close()]).then(() => undefined)),
  };
}
