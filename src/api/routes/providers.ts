/**
 * A project's provider credentials (REST key only):
 *   PUT    /v1/providers/{apns|fcm|webpush|smtp|sms}  check, seal and store (replacing)
 *   GET    /v1/providers                              what is stored, as summaries
 *   GET    /v1/providers/{provider}                   one summary
 *   DELETE /v1/providers/{provider}                   back to the sandbox (or unconfigured)
 * Secrets go in and never come out: answers carry the summary and keyed fingerprints only. A
 * failed check stores nothing. Each provider's body schema, check, hosts and deletion rule are its
 * channel's (src/channels/<channel>/credentials.ts, through the registry).
 */
import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { Sql } from 'postgres';
import { CredentialProblem } from '../../domain/credential-checks.js';
import { isProvider, providers, type CredentialsByProvider, type Provider } from '../../domain/provider-credentials.js';
import { SmtpProblem, type VerifyOptions } from '../../providers/email/verify-smtp.js';
import { noPrivateNetworks, refusalOfHost, type PrivateNetworkAllowance } from '../../domain/network-address.js';
import {
  deleteCredentials, getCredentialsSummary, listCredentials, loadCredentials, saveCredentials,
} from '../../store/provider-credentials.js';
import type { Keyring } from '../../store/sealed.js';
import type { ChannelDefinition } from '../../channels/channel.js';
import { channelOfProvider, channelRegistry } from '../../channels/registry.js';
import { ApiError } from '../errors.js';
import { DateTime, errorResponses, inputErrors, NoContent, restKeyErrors } from '../schemas.js';

export interface ProviderRouteDeps {
  sql: Sql;
  keyring: Keyring;
  /** How SMTP settings are proven (tests trust their own CA). */
  smtp?: VerifyOptions;
  /** Where provider settings may point at private addresses (none by default). */
  privateNetworks?: PrivateNetworkAllowance | undefined;
}

/** A setting that names a private address outright is refused here; a name is checked when it is resolved. */
function refuseLiteralPrivateTargets(allowance: PrivateNetworkAllowance, def: ChannelDefinition, c: CredentialsByProvider[Provider]): void {
  for (const t of def.credentials.hosts?.(c) ?? []) {
    const refusal = refusalOfHost(allowance, t.host, t.port);
    if (refusal) throw new ApiError('forbidden_address', `${t.field}: ${refusal}`);
  }
}

function providerOf(name: string): Provider {
  if (!isProvider(name)) throw new ApiError('unknown_provider', `no provider "${name}"; the providers are ${providers.join(', ')}`);
  return name;
}

/** Runs the channel's credential check; the result is what gets sealed. */
async function checked(deps: ProviderRouteDeps, projectId: string, def: ChannelDefinition, input: unknown): Promise<CredentialsByProvider[Provider]> {
  const allowance = deps.privateNetworks ?? noPrivateNetworks;
  try {
    return await def.credentials.check(input, {
      current: () => loadCredentials(deps.sql, deps.keyring, projectId, def.provider),
      allowance,
      refusePrivateTargets: (c) => refuseLiteralPrivateTargets(allowance, def, c),
      smtp: deps.smtp,
    });
  } catch (err) {
    if (err instanceof CredentialProblem || err instanceof SmtpProblem) throw new ApiError(err.code, err.message);
    throw err;
  }
}

const text = { type: 'string' };
const nullableText = { type: ['string', 'null'] };
/**
 * Each provider's summary (domain/provider-credentials.ts#summarize), for documentation: no field
 * but fingerprints is required and others are kept (additionalProperties), so a summary stored by
 * another version of Herald is answered whole.
 */
const summaryFields: Record<Provider, Record<string, unknown>> = {
  apns: { team_id: text, key_id: text, topic: text, environment: nullableText },
  fcm: { project_id: text, client_email: text, private_key_id: text, token_uri: text },
  webpush: { subject: nullableText, public_key: { ...text, description: 'The VAPID public key browsers subscribe with.' } },
  smtp: {
    host: text, port: { type: 'integer' }, security: text, username: nullableText,
    from: { type: 'array', items: { type: 'object', properties: { name: text, address: text }, additionalProperties: true } },
    dkim: { type: ['object', 'null'], properties: { domain: text, selector: text }, additionalProperties: true },
  },
  sms: { account_sid: text, from: nullableText, messaging_service_sid: nullableText, base_url: text },
};
/** What may be shown of stored credentials: never a secret. */
const storedSchema = (provider?: Provider) => Type.Object({
  provider: Type.Union(providers.map((p) => Type.Literal(p))),
  summary: Type.Unsafe<Record<string, unknown> & { fingerprints: Record<string, string> }>({
    type: 'object',
    description: 'The non-secret settings (ids, hosts, public keys, senders), and a keyed fingerprint of each secret, so a change can be recognised.',
    properties: {
      ...(provider ? summaryFields[provider] : {}),
      fingerprints: { type: 'object', additionalProperties: { type: 'string' } },
    },
    required: ['fingerprints'],
    additionalProperties: true,
  }),
  updated_at: DateTime,
});
const Stored = storedSchema();
const ProviderParams = Type.Object({ provider: Type.String({ description: providers.join(', ') }) });
const putErrors = [...inputErrors, ...restKeyErrors, 'forbidden_address', 'invalid_apns_key', 'invalid_service_account', 'invalid_vapid_keys',
  'invalid_dkim_key', 'smtp_unreachable', 'smtp_tls_failed', 'smtp_auth_failed', 'smtp_rejected'] as const;

export const providerRoutes = (deps: ProviderRouteDeps): FastifyPluginAsyncTypebox => async (app) => {
  for (const def of channelRegistry) {
    const provider = def.provider;
    app.put<{ Body: unknown }>(`/v1/providers/${provider}`, {
      config: { auth: 'rest', role: 'admin' },
      schema: {
        summary: `Set the project's ${provider} credentials (checked before they are stored; secrets are never returned)`,
        tags: ['providers'],
        body: def.credentials.schema,
        response: { 200: storedSchema(provider), ...errorResponses(putErrors) },
      },
      handler: async (req) => {
        const projectId = req.caller.projectId;
        const credentials = await checked(deps, projectId, def, req.body);
        refuseLiteralPrivateTargets(deps.privateNetworks ?? noPrivateNetworks, def, credentials);
        const stored = await saveCredentials(deps.sql, deps.keyring, projectId, provider, credentials);
        req.log.info({ projectId, provider }, 'provider credentials saved');
        return stored;
      },
    });
  }

  // Any other name under PUT: a precise 404 rather than "no route".
  app.put('/v1/providers/:provider', {
    config: { auth: 'rest', role: 'admin' },
    schema: { hide: true, params: ProviderParams, response: { 200: Stored, ...errorResponses(putErrors, 'unknown_provider') } },
    handler: async (req) => { providerOf(req.params.provider); },
  });

  app.get('/v1/providers', {
    config: { auth: 'rest' },
    schema: {
      summary: 'The providers this project has credentials for, as summaries', tags: ['providers'],
      response: { 200: Type.Object({ providers: Type.Array(Stored) }), ...errorResponses(restKeyErrors) },
    },
    handler: async (req) => ({ providers: await listCredentials(deps.sql, req.caller.projectId) }),
  });

  app.get('/v1/providers/:provider', {
    config: { auth: 'rest' },
    schema: {
      summary: 'One provider\'s credentials, as a summary', tags: ['providers'], params: ProviderParams,
      response: { 200: Stored, ...errorResponses(inputErrors, restKeyErrors, 'unknown_provider', 'provider_not_configured') },
    },
    handler: async (req) => {
      const provider = providerOf(req.params.provider);
      const stored = await getCredentialsSummary(deps.sql, req.caller.projectId, provider);
      if (!stored) throw new ApiError('provider_not_configured', `this project has no ${provider} credentials`);
      return stored;
    },
  });

  app.delete('/v1/providers/:provider', {
    config: { auth: 'rest', role: 'admin' },
    schema: {
      summary: 'Delete one provider\'s credentials', tags: ['providers'], params: ProviderParams,
      response: { 204: NoContent, ...errorResponses(inputErrors, restKeyErrors, 'unknown_provider', 'provider_not_configured', 'vapid_keys_required') },
    },
    handler: async (req, reply) => {
      const provider = providerOf(req.params.provider);
      const refusal = channelOfProvider(provider).credentials.deleteRefusal;
      if (refusal) throw new ApiError(refusal.code, refusal.message);
      if (!(await deleteCredentials(deps.sql, req.caller.projectId, provider))) {
        throw new ApiError('provider_not_configured', `this project has no ${provider} credentials`);
      }
      req.log.info({ projectId: req.caller.projectId, provider }, 'provider credentials deleted');
      return reply.code(204).send();
    },
  });
};
