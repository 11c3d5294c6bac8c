// Writes schema/stack-description.schema.json from the zod schema: pnpm --filter @modelgate/stack schema
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { STACK_DESCRIPTION_JSON_SCHEMA_FILE, stackDescriptionJsonSchema } from '../src/stack-description.js';

writeFileSync(
  STACK_DESCRIPTION_JSON_SCHEMA_FILE,
  `${JSON.stringify(stackDescriptionJsonSchema(), null, 2)}\n`,
);
process.stderr.write(`wrote ${fileURLToPath(STACK_DESCRIPTION_JSON_SCHEMA_FILE)}\n`);
