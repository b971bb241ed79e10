/**
 * Who may change an installation's identity and a profile through the SDK routes. The SDK key is
 * public, so a call acting for a custom_id carries `identity_token`, the HMAC-SHA256 of that
 * custom_id under the project's identity secret (domain/identity-token.ts), which only the app's
 * server can make. The rules (docs/profiles.md):
 *
 * - attaching an installation to custom_id X needs X's token;
 * - any change to an installation attached to B (its push token, its attributes, a logout) needs B's token;
 * - attaching an installation attached to B to another X is refused: log B out first (with B's token);
 * - an anonymous installation changes without a token (its install_id, random and kept by the
 *   device, is all it has), except that it cannot be attached to a custom_id without one.
 *
 * The REST key is the app's server itself: trusted, it needs no token.
 */
import type { FastifyRequest } from 'fastify';
import type { TransactionSql } from 'postgres';
import { verifyIdentityToken } from '../domain/identity-token.js';
import { identitySecrets } from '../store/identity-secrets.js';
import type { Keyring } from '../store/sealed.js';
import { ApiError } from './errors.js';

/** Called with the installation's custom_id (row-locked) before it changes; throws the 403 to refuse. */
export type AuthorizeChange = (tx: TransactionSql, boundTo: string | null) => Promise<void>;

/**
 * The check for one request that would attach the installation to `attachTo` (a custom_id), detach
 * it (null) or leave its custom_id as it is (undefined).
 */
export function authorizeChange(
  keyring: Keyring, req: FastifyRequest, token: string | undefined, attachTo: string | null | undefined,
): AuthorizeChange {
  return async (tx, boundTo) => {
    if (req.caller.kind === 'rest') return;
    if (boundTo !== null && typeof attachTo === 'string' && attachTo !== boundTo) {
      throw new ApiError('identity_required',
        'this installation is attached to another custom_id: log it out first (POST /v1/sdk/logout with that custom_id\'s identity_token)');
    }
    const actingAs = attachTo ?? boundTo;
    if (actingAs === null) return;
    if (token === undefined) {
      throw new ApiError('identity_required',
        'this call acts for a custom_id: send identity_token, the HMAC-SHA256 (hex) of the custom_id under the project\'s identity secret');
    }
    const secrets = await identitySecrets(tx, keyring, req.caller.projectId);
    if (!verifyIdentityToken(secrets, actingAs, token)) {
      throw new ApiError('invalid_identity_token',
        'identity_token is not the HMAC-SHA256 of this custom_id under the project\'s identity secret');
    }
  };
}
