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
import type { FastifyPluginAsync } from 'fastify';
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

export const providerRoutes = (deps: ProviderRouteDeps): FastifyPluginAsync => async (app) => {
  for (const def of channelRegistry) {
    const provider = def.provider;
    app.put<{ Body: unknown }>(`/v1/providers/${provider}`, {
      config: { auth: 'rest', role: 'admin' },
      schema: {
        summary: `Set the project's ${provider} credentials (checked before they are stored; secrets are never returned)`,
        tags: ['providers'],
        body: def.credentials.schema,
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
  app.put<{ Params: { provider: string } }>('/v1/providers/:provider', {
    config: { auth: 'rest', role: 'admin' },
    schema: { hide: true },
    handler: async (req) => { providerOf(req.params.provider); },
  });

  app.get('/v1/providers', {
    config: { auth: 'rest' },
    schema: { summary: 'The providers this project has credentials for, as summaries', tags: ['providers'] },
    handler: async (req) => ({ providers: await listCredentials(deps.sql, req.caller.projectId) }),
  });

  app.get<{ Params: { provider: string } }>('/v1/providers/:provider', {
    config: { auth: 'rest' },
    schema: { summary: 'One provider\'s credentials, as a summary', tags: ['providers'] },
    handler: async (req) => {
      const provider = providerOf(req.params.provider);
      const stored = await getCredentialsSummary(deps.sql, req.caller.projectId, provider);
      if (!stored) throw new ApiError('provider_not_configured', `this project has no ${provider} credentials`);
      return stored;
    },
  });

  app.delete<{ Params: { provider: string } }>('/v1/providers/:provider', {
    config: { auth: 'rest', role: 'admin' },
    schema: { summary: 'Delete one provider\'s credentials', tags: ['providers'] },
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
