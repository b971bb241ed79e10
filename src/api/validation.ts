/**
 * Request validation: bodies are checked strictly (no type coercion, unknown fields refused, never
 * silently dropped as Fastify's default does); query strings and params are coerced from text,
 * since every value there arrives as a string.
 */
import { Ajv, type Options } from 'ajv';
import addFormatsModule from 'ajv-formats';
import type { FastifySchemaCompiler } from 'fastify';

// ajv-formats is CommonJS; under NodeNext its default export arrives wrapped in `default`.
type AddFormats = (ajv: Ajv) => Ajv;
const addFormats: AddFormats =
  (addFormatsModule as unknown as { default?: AddFormats }).default ?? (addFormatsModule as unknown as AddFormats);

function make(opts: Options): Ajv {
  const ajv = new Ajv({ allErrors: false, useDefaults: true, removeAdditional: false, strict: false, ...opts });
  addFormats(ajv);
  return ajv;
}

/**
 * A part whose schema is marked `x-validated-by: parser` (api/profile-operation-schema.ts) is
 * documented by it and checked by the route's own parser, whose errors name the field: Ajv checks
 * only its top-level `type` (a body that is not even an array is refused as any schema refuses it).
 */
function parserChecks(schema: Record<string, unknown>): object | undefined {
  if (schema['x-validated-by'] !== 'parser') return undefined;
  return schema.type === undefined ? {} : { type: schema.type };
}

export function validatorCompiler(): FastifySchemaCompiler<unknown> {
  const strict = make({ coerceTypes: false });
  const lenient = make({ coerceTypes: 'array' });
  return ({ schema, httpPart }) =>
    (httpPart === 'body' ? strict : lenient).compile(parserChecks(schema as Record<string, unknown>) ?? (schema as object));
}
