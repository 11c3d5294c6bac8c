/** Where the shipped JSON Schema of the report lives (written by `pnpm schema`). */
export const REPORT_JSON_SCHEMA_FILE = new URL('../../schema/loadgen-report.schema.json', import.meta.url);
