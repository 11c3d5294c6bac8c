import { z } from 'zod';
import { POLICY_SCHEMA } from './policy.js';

// The policy file's JSON Schema, generated from the zod schema that validates it, so that editors complete and
// check policy files (`"$schema": "<path to>/policy.schema.json"`). Shipped as schema/policy.schema.json;
// `pnpm --filter @modelgate/policy schema` rewrites it and a test keeps it equal to this.

/** Where the shipped schema lives, inside the package. */
export const POLICY_JSON_SCHEMA_FILE = new URL('../schema/policy.schema.json', import.meta.url);

/** The JSON Schema (draft 2020-12) of a policy file as written: defaults are optional fields. */
export function policyJsonSchema(): Record<string, unknown> {
  const schema = z.toJSONSchema(POLICY_SCHEMA, { io: 'input', target: 'draft-2020-12' });
  return {
    $schema: schema.$schema,
    $id: 'https://modelgate.invalid/schema/policy.schema.json',
    title: 'modelgate policy',
    description:
      'One policy: the models behind the gateway, the clients and what each may call, limits, logging and the token issuer.',
    ...schema,
  };
}

/** The schema file's text, as written to disk. */
export function policyJsonSchemaText(): string {
  return `${JSON.stringify(policyJsonSchema(), null, 2)}\n`;
}
