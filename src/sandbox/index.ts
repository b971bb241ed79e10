/**
 * The provider sandbox: simulators that answer as the real providers do, one for each simulator
 * the channel registry names (simulators.ts), and the inspection API that shows what they
 * received and makes them fail on purpose (docs/sandbox.md).
 * Runs inside Herald (`herald start --sandbox`) or alone (`herald sandbox`).
 */
import type { Logger } from 'pino';
import type { AddressInfo } from 'node:net';
import type { SandboxLink } from '../sandbox-link.js';
import { channelRegistry } from '../channels/registry.js';
import { createTlsIdentity } from './credentials.js';
import { createDeliveryRecords, defaultMaxRecords } from './records.js';
import { createFaults } from './faults.js';
import { urlHost } from './apns.js';
import { buildInspectionApp, type InspectionDeps } from './inspection.js';
import { simulators, type RunningSimulator } from './simulators.js';

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
  const records = createDeliveryRecords(opts.maxRecords ?? defaultMaxRecords);
  const faults = createFaults();

  const shared = { host, tls, records, faults, clock, log: opts.log };
  const running: RunningSimulator[] = [];
  const closeSimulators = () => Promise.all(running.map((s) => s.close())).then(() => undefined);
  const endpoints: Record<string, string> = {};
  const credentials: Record<string, unknown> = {};
  const inspection: Pick<InspectionDeps, 'smsInbound' | 'smsAccountFor'> = {};
  let app: ReturnType<typeof buildInspectionApp> | undefined;
  try {
    // One after another, in the registry's order: the listed endpoints and credentials keep it.
    for (const name of new Set(channelRegistry.map((c) => c.simulator))) {
      const s: RunningSimulator = await simulators[name](shared);
      running.push(s);
      endpoints[name] = s.url;
      if (s.credentials !== undefined) credentials[name] = s.credentials;
      Object.assign(inspection, s.inspection);
    }
    app = buildInspectionApp({ records, faults, endpoints, credentials, caPem: tls.certPem, ...inspection });
    await app.listen({ host, port: opts.port });
  } catch (err) {
    await Promise.allSettled([closeSimulators(), app?.close()]);
    throw err;
  }
  const { port } = app.server.address() as AddressInfo;
  const inspectionUrl = `http://${urlHost(host)}:${port}`;
  opts.log.debug({ inspectionUrl, endpoints }, 'sandbox started');

  let closing: Promise<void> | undefined;
  const { smsAccountFor } = inspection;
  return {
    inspectionUrl,
    // Every simulator a channel names has started: the link's shape (sandbox-link.ts) is complete.
    endpoints: endpoints as Sandbox['endpoints'],
    credentials: credentials as Sandbox['credentials'],
    smsAccountFor: async (projectId) => {
      if (!smsAccountFor) throw new Error('no SMS simulator runs in this sandbox');
      return smsAccountFor(projectId);
    },
    caPem: tls.certPem,
    close: () => (closing ??= Promise.all([closeSimulators(), app.close()]).then(() => undefined)),
  };
}
