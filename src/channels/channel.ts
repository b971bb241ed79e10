/**
 * What a channel is to the rest of Herald: one `ChannelDefinition` per folder of src/channels/,
 * listed once in registry.ts. The send API takes its content schema and checks from it, the
 * provider routes its credential schema and check, the worker its sender and consumer settings, the
 * sandbox link its simulator's name; docs/adding-a-channel.md walks through writing one.
 *
 * The channel layer sits above providers/ and store/ (a sender wraps a provider client and writes a
 * channel's own records) and below worker/ and api/. It never imports sandbox/: the simulator that
 * stands in for a channel's provider is named as plain data (`simulator`, a key of the sandbox
 * link's endpoints), and a fallback account is built from the link (sandbox-link.ts, plain data).
 */
import type { TSchema } from '@sinclair/typebox';
import type { TransactionSql } from 'postgres';
import type { Logger } from 'pino';
import type { ChannelFacts, MessageContent } from '../domain/channels.js';
import type { DeliveryOutcome } from '../domain/outcome.js';
import type { Share } from '../domain/process-share.js';
import type { PrivateNetworkAllowance } from '../domain/network-address.js';
import type { CredentialsByProvider, Provider } from '../domain/provider-credentials.js';
import type { OutboundGuard } from '../providers/outbound-guard.js';
import type { VerifyOptions } from '../providers/email/verify-smtp.js';
import type { CredentialsCache } from '../store/credentials-cache.js';
import type { DeliveryToSend } from '../store/deliveries.js';
import type { SandboxLink } from '../sandbox-link.js';

/** One channel's part of the delivery step (worker/deliver.ts). */
export interface ChannelSender<C> {
  channel: string;
  /** True when a re-sent request is recognised as the same message by the provider or the device. */
  resendIsSafe: boolean;
  /** The project's credentials for this channel, or undefined when it has none. */
  credentialsFor(projectId: string): Promise<C | undefined>;
  /** The provider account a call is made on: one circuit breaker each. */
  accountOf(creds: C, delivery: DeliveryToSend): string;
  send(creds: C, delivery: DeliveryToSend): Promise<DeliveryOutcome>;
  /** True for a failure after which the provider may still have the message (a timeout after the
   *  request left): recorded `unknown` instead of retried, where re-sending is not safe. */
  outcomeIsAmbiguous?(outcome: DeliveryOutcome): boolean;
  /** The channel's own records of its calls' outcomes (a provider message id, a suppression),
   *  written in the transaction that records them. */
  recordExtra?(tx: TransactionSql, results: { delivery: DeliveryToSend; outcome: DeliveryOutcome }[]): Promise<void>;
}

/** A delivery whose message lacks its channel's part (cannot happen through the API): refused, not thrown. */
export function noContent(part: 'push' | 'email' | 'sms'): DeliveryOutcome {
  return { kind: 'rejected', reason: `the message has no ${part} content`, local: true };
}

/** Where a channel finds the account a project's deliveries go out on. */
export interface AccountContext {
  /** The projects' stored credentials (PUT /v1/providers/{provider}), read through a short cache. */
  credentials: CredentialsCache;
  /** The linked sandbox, whose simulator account is the fallback when a project stored none. */
  sandbox: SandboxLink | undefined;
  /** Herald's public URL. */
  publicUrl: string;
}

/** What one worker process builds a channel's sender from. */
export interface SenderContext extends AccountContext {
  log: Logger;
  /** The sandbox's certificate, when one is linked. */
  ca: string | undefined;
  /** This process's share of each provider account's rate and connections. */
  share: Share;
  /** Every connection to a host a tenant named goes through it. */
  guard: OutboundGuard;
  clock: () => number;
  /** Where providers post callbacks (SMS status). */
  callbackUrl: string;
  /** Signs one-click unsubscribe links. */
  unsubscribeSecret: Buffer;
}

/** A running sender: the worker consumes the channel's topic through it and closes it on stop. */
export interface StartedSender<A> {
  sender: ChannelSender<A>;
  close(): Promise<void>;
}

/** Why the send API refuses a message's content for this channel (an error code of api/errors.ts). */
export interface ContentProblem {
  code: 'invalid_field' | 'reserved_data_key' | 'push_payload_too_large';
  message: string;
}

/** What a credential check gets beside the input. */
export interface CredentialCheckContext<P extends Provider> {
  /** The credentials stored now (Web Push keeps its key pair when the input names none). */
  current(): Promise<CredentialsByProvider[P] | undefined>;
  /** Where settings may point at private addresses. */
  allowance: PrivateNetworkAllowance;
  /** Refuses settings that name a private address outright (`forbidden_address`). */
  refusePrivateTargets(c: CredentialsByProvider[P]): void;
  /** How SMTP settings are proven (tests trust their own CA). */
  smtp?: VerifyOptions | undefined;
}

export interface ChannelDefinition<P extends Provider = Provider, A = unknown> extends ChannelFacts {
  /** The provider whose credentials the channel sends with (PUT /v1/providers/{provider}). */
  provider: P;
  /** The sandbox simulator that stands in for the provider: a key of the sandbox link's endpoints. */
  simulator: keyof SandboxLink['endpoints'];
  content: {
    /** The schema of the channel's part of a send (the send API and OpenAPI take it from here). */
    schema: TSchema;
    /** What the schema cannot say: refused at the API so that what passes fits the provider later. */
    check?(content: MessageContent, message: { id: string; createdAt: Date }): ContentProblem | undefined;
  };
  credentials: {
    /** The body of PUT /v1/providers/{provider}. */
    schema: TSchema;
    /** Checks (and normalises) the input; throws CredentialProblem or SmtpProblem. What it returns is sealed. */
    check(input: unknown, ctx: CredentialCheckContext<P>): Promise<CredentialsByProvider[P]>;
    /** The hosts the settings make Herald connect to, with the field that names each. */
    hosts?(c: CredentialsByProvider[P]): { field: string; host: string; port: number }[];
    /** Why the credentials cannot be deleted, when they cannot. */
    deleteRefusal?: { code: 'vapid_keys_required'; message: string };
  };
  worker: {
    /** Consumer lanes per worker process: one lane's database round trips overlap another's sends. */
    lanes: number;
    /** How long a claim holds: longer than the slowest provider call. */
    leaseMs?: number;
  };
  /** The account a project's deliveries go out on: its stored credentials, else the sandbox's. */
  account(ctx: AccountContext): (projectId: string) => Promise<A | undefined>;
  /** The sender: the provider client, its outcome mapping, the channel's own records. */
  start(ctx: SenderContext): StartedSender<A>;
}

/** A definition whose types are checked where it is written and erased in the registry's list. */
export function defineChannel<P extends Provider, A>(d: ChannelDefinition<P, A>): ChannelDefinition {
  return d as unknown as ChannelDefinition;
}
