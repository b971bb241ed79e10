/**
 * The JSON Schema of a profile operation (the body of POST /v1/profiles/update, and each line of
 * /v1/profiles/bulk), as /openapi.json shows it. What is valid and what it does is decided by one
 * parser, domain/profile-operations.ts, whose errors name the field (`[3].attributes.age must
 * be...`, `too_many_operations`, `too_many_events`); this schema describes the same rules for
 * documentation and client generation.
 *
 * It is marked `x-validated-by: parser`, and of such a schema api/validation.ts has Ajv check only
 * the top-level type (a body that is no array is refused as before: `body must be array`). The
 * rest is the parser's: an Ajv error would pre-empt its own (another code for the same mistake,
 * such as invalid_field where the parser says too_many_operations or unknown_field, and a message
 * naming the schema's keyword rather than the operation's field). The test beside it holds the
 * schema and the parser to the same verdict on examples.
 */
import { Type } from '@sinclair/typebox';
import { limits } from '../domain/profile-operations.js';
import { Nullable, OpenObject } from './schemas.js';

/** A keyword Ajv ignores (strict: false) that api/validation.ts reads: the route's parser validates this part. */
export const validatedByParser = { 'x-validated-by': 'parser' } as const;

const name = `[a-z0-9_]{1,${limits.nameLength}}`;
const text = Type.String({ maxLength: limits.stringLength });
const textList = Type.Array(text, { maxItems: limits.arrayItems, description: 'Duplicates are kept once; an empty list removes the attribute.' });

const AttributeValue = Type.Union([
  text,
  Type.Number(),
  Type.Boolean(),
  textList,
  Type.Null({ description: 'Removes the attribute.' }),
  Type.Object({ $add: textList }, { additionalProperties: false, description: 'Adds values to an array attribute (the newest 25 are kept).' }),
  Type.Object({ $remove: textList }, { additionalProperties: false, description: 'Removes values from an array attribute.' }),
]);

const subscription = Nullable(Type.Union([Type.Literal('subscribed'), Type.Literal('unsubscribed')]));

const Attributes = Type.Object(
  {
    $email: Type.Optional(Nullable(Type.String({ maxLength: 254, description: 'Lower-cased; null clears it.' }))),
    $phone: Type.Optional(Nullable(Type.String({ pattern: '^\\+[1-9][0-9]{1,14}$', description: 'E.164.' }))),
    $language: Type.Optional(Nullable(Type.String({ pattern: '^[a-zA-Z]{2,3}$', description: 'ISO 639, lower-cased.' }))),
    $region: Type.Optional(Nullable(Type.String({ pattern: '^[a-zA-Z]{2}$', description: 'ISO 3166, upper-cased.' }))),
    $timezone: Type.Optional(Nullable(Type.String({ maxLength: 64, description: 'IANA, such as Europe/Paris.' }))),
    $email_subscription: Type.Optional(subscription),
    $sms_subscription: Type.Optional(subscription),
  },
  {
    description:
      `Native fields start with $; custom attributes are named [a-z0-9_] (1 to ${limits.nameLength}), at most ` +
      `${limits.attributesPerOperation} per operation; date(name) and url(name) store typed values.`,
    patternProperties: {
      [`^${name}$`]: AttributeValue,
      [`^date\\(${name}\\)$`]: Nullable(Type.String({ description: 'ISO 8601 date or date-time.' })),
      [`^url\\(${name}\\)$`]: Nullable(Type.String({ maxLength: limits.urlLength, description: 'An absolute URL.' })),
    },
    additionalProperties: false,
  },
);

export const ProfileEvent = Type.Object(
  {
    id: Type.Optional(Type.String({ minLength: 1, maxLength: limits.clientIdLength, description: 'The client\'s id: an event seen again is not stored twice.' })),
    name: Type.String({ pattern: `^${name}$` }),
    time: Type.Optional(Type.String({ description: 'ISO 8601 with offset, after 2000-01-01 and at most 24 h ahead; now when absent.' })),
    attributes: Type.Optional(OpenObject(`Any JSON object, at most ${limits.eventAttributesBytes} bytes.`)),
  },
  { additionalProperties: false },
);

export const ProfileOperation = Type.Object(
  {
    identifiers: Type.Object({ custom_id: Type.String({ minLength: 1, maxLength: limits.customIdLength }) }, { additionalProperties: false }),
    attributes: Type.Optional(Attributes),
    events: Type.Optional(Type.Array(ProfileEvent, { maxItems: limits.eventsPerOperation })),
  },
  { additionalProperties: false, description: 'Creates the profile by its first write (docs/profiles.md).' },
);

/** The body of POST /v1/profiles/update; typed unknown, since the parser reads it. */
export const ProfileOperations = Type.Unsafe<unknown>({
  ...Type.Array(ProfileOperation, { minItems: 1, maxItems: limits.operationsPerCall }),
  ...validatedByParser,
});
