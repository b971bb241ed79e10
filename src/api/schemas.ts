/** Shared schema pieces. Each route's TypeBox schema validates, types and documents it at once. */
import { Type } from '@sinclair/typebox';

export const ErrorBody = Type.Object(
  { error: Type.Object({ code: Type.String(), message: Type.String() }) },
  { $id: 'Error', description: 'Every 4xx/5xx answer. `code` is stable; see /docs for the list.' },
);

export const errorResponses = {
  400: { $ref: 'Error#' },
  401: { $ref: 'Error#' },
  403: { $ref: 'Error#' },
  503: { $ref: 'Error#' },
} as const;

export const Platform = Type.Union([Type.Literal('ios'), Type.Literal('android'), Type.Literal('web')]);

export { oneLine } from '../domain/email-message.js';

/** What an SDK-key call acting for a custom_id carries (api/identity-guard.ts, docs/profiles.md). */
export const IdentityToken = Type.String({
  minLength: 1, maxLength: 128,
  description: 'HMAC-SHA256 (hex) of the custom_id this call acts for, under the project\'s identity secret; made by your server. Not needed with the REST key.',
});
