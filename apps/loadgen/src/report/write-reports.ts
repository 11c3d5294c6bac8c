import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { csvTimeSeries } from './csv-report.js';
import { htmlReport } from './html-report.js';
import { LOAD_REPORT_SCHEMA, type LoadReport } from './load-report.js';
import { markdownReport } from './markdown-report.js';

/** Writes `<name>.json`, `.md`, `.html` and `.csv` into `dir`; returns the paths. */
export async function writeReports(report: LoadReport, dir: string, name: string): Promise<string[]> {
  // what we write must be what we promise to readers
  LOAD_REPORT_SCHEMA.parse(report);
  await mkdir(dir, { recursive: true });
  const files: [string, string][] = [
    [
      `${name}.json`,
      `${JSON.stringify({ $schema: 'https://modelgate.dev/schema/loadgen-report.schema.json', ...report }, null, 2)}\n`,
    ],
    [`${name}.md`, markdownReport(report)],
    [`${name}.html`, htmlReport(report)],
    [`${name}.csv`, csvTimeSeries(report)],
  ];
  const paths: string[] = [];
  for (const [file, content] of files) {
    const path = join(dir, file);
    await writeFile(path, content);
    paths.push(path);
  }
  return paths;
}
