import { writeFile } from 'node:fs/promises';
import { reportJsonSchema } from '../src/report/load-report.js';
import { REPORT_JSON_SCHEMA_FILE } from '../src/report/report-schema-file.js';

// Writes schema/loadgen-report.schema.json from the zod schema (a test checks it is current).
await writeFile(REPORT_JSON_SCHEMA_FILE, `${JSON.stringify(reportJsonSchema(), null, 2)}\n`);
