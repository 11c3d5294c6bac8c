// Writes schema/policy.schema.json from the zod schema: pnpm --filter @modelgate/policy schema
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { POLICY_JSON_SCHEMA_FILE, policyJsonSchemaText } from '../src/policy-json-schema.js';

writeFileSync(POLICY_JSON_SCHEMA_FILE, policyJsonSchemaText());
process.stderr.write(`wrote ${fileURLToPath(POLICY_JSON_SCHEMA_FILE)}\n`);
