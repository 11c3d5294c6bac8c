import { readFileSync } from 'node:fs';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { describe, expect, it } from 'vitest';
import { DEFAULT_POLICY_INPUT, TOKEN_CLAIM_POLICY_INPUT } from './default-policy.js';
import { POLICY_JSON_SCHEMA_FILE, policyJsonSchema, policyJsonSchemaText } from './policy-json-schema.js';

// The shipped JSON Schema is the zod schema's, checked by a JSON Schema validator nobody here wrote (ajv), on
// the policies we ship and on mistakes the zod schema refuses.

const validate = new Ajv2020({ strict: false, allErrors: true }).compile(policyJsonSchema());

describe('schema/policy.schema.json', () => {
  it('is what the zod schema generates (run `pnpm --filter @modelgate/policy schema` after changing it)', () => {
    // compared as JSON: the repo's formatter may lay the file out differently
    expect(JSON.parse(readFileSync(POLICY_JSON_SCHEMA_FILE, 'utf8'))).toEqual(
      JSON.parse(policyJsonSchemaText()),
    );
  });

  it('accepts the shipped policies, which point their $schema at it', () => {
    for (const input of [DEFAULT_POLICY_INPUT, TOKEN_CLAIM_POLICY_INPUT]) {
      expect(validate(input), JSON.stringify(validate.errors)).toBe(true);
      expect(input.$schema).toBe('../schema/policy.schema.json');
    }
  });

  it('refuses an unknown field, a model source of neither kind and an issuer of another kind', () => {
    const wrong = [
      { ...DEFAULT_POLICY_INPUT, rateLimits: {} },
      { ...DEFAULT_POLICY_INPUT, models: [{ name: 'm', source: { graph: 'classifier' }, versions: [1] }] },
      { ...DEFAULT_POLICY_INPUT, issuer: { kind: 'okta', url: 'https://x.example/' } },
      { ...DEFAULT_POLICY_INPUT, authorization: { mode: 'token-claim', claim: 'roles' } },
    ];
    expect(wrong.map((input) => validate(input))).toEqual([false, false, false, false]);
  });
});
