import { appendFileSync } from 'node:fs';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { StackDescription } from '@modelgate/stack';

// The evidence a team hands to an auditor: the matrix of clients x models x operations with what was allowed
// and refused, the audit-log completeness figure, and the stack it ran against, as Markdown and HTML. Test
// files record outcomes as JSON lines (one file per worker); global teardown renders them.

export interface AccessOutcome {
  kind: 'access';
  client: string;
  model: string;
  operation: string;
  protocol: 'rest' | 'grpc';
  expected: 'allowed' | 'refused';
  observed: string;
}

export interface FigureOutcome {
  kind: 'figure';
  name: string;
  value: string;
}

export type Outcome = AccessOutcome | FigureOutcome;

export function recordOutcome(reportDir: string, outcome: Outcome): void {
  appendFileSync(join(reportDir, 'results', `${process.pid}.jsonl`), `${JSON.stringify(outcome)}\n`);
}

async function outcomes(reportDir: string): Promise<Outcome[]> {
  const dir = join(reportDir, 'results');
  const all: Outcome[] = [];
  for (const name of (await readdir(dir)).sort()) {
    const text = await readFile(join(dir, name), 'utf8');
    for (const line of text.split('\n')) if (line) all.push(JSON.parse(line) as Outcome);
  }
  return all;
}

const escapeHtml = (text: string) =>
  text.replace(
    /[&<>"]/g,
    (char) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[char] as string,
  );

export async function writeAccessReport(reportDir: string, stack: StackDescription): Promise<void> {
  const results = await outcomes(reportDir);
  const access = results.filter((outcome): outcome is AccessOutcome => outcome.kind === 'access');
  const figures = results.filter((outcome): outcome is FigureOutcome => outcome.kind === 'figure');
  const keyOf = (o: AccessOutcome) => `${o.client}|${o.model}|${o.operation}|${o.protocol}`;
  const unique = [...new Map(access.map((outcome) => [keyOf(outcome), outcome])).values()].sort((a, b) =>
    keyOf(a) < keyOf(b) ? -1 : 1,
  );
  const mismatches = unique.filter((o) => (o.expected === 'allowed') !== o.observed.startsWith('allowed'));
  const when = new Date().toISOString();
  const header = [
    `Stack: ${stack.provider}, gateway ${stack.gateway.http} (gRPC ${stack.gateway.grpc}), issuer ${stack.issuer.issuer}`,
    `Run: ${when}; ${unique.length} client x model x operation checks, ${mismatches.length} not as the policy says`,
  ];
  const md = [
    '# modelgate access report',
    '',
    ...header.map((line) => `- ${line}`),
    ...figures.map((figure) => `- ${figure.name}: ${figure.value}`),
    '',
    '| client | model | operation | protocol | policy | observed |',
    '| --- | --- | --- | --- | --- | --- |',
    ...unique.map(
      (o) => `| ${o.client} | ${o.model} | ${o.operation} | ${o.protocol} | ${o.expected} | ${o.observed} |`,
    ),
    '',
  ].join('\n');
  const rows = unique
    .map((o) => {
      const ok = (o.expected === 'allowed') === o.observed.startsWith('allowed');
      return `<tr class="${ok ? (o.expected === 'allowed' ? 'allowed' : 'refused') : 'wrong'}"><td>${[o.client, o.model, o.operation, o.protocol, o.expected, o.observed].map(escapeHtml).join('</td><td>')}</td></tr>`;
    })
    .join('\n');
  const html = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>modelgate access report</title>
<style>
body { font: 14px/1.4 system-ui, sans-serif; margin: 2rem; color: #222; }
table { border-collapse: collapse; } td, th { border: 1px solid #ccc; padding: 0.2rem 0.6rem; text-align: left; }
tr.allowed td:last-child { color: #176b22; } tr.refused td:last-child { color: #8a4b00; } tr.wrong { background: #fdd; }
</style></head><body>
<h1>modelgate access report</h1>
<ul>${[...header, ...figures.map((figure) => `${figure.name}: ${figure.value}`)].map((line) => `<li>${escapeHtml(line)}</li>`).join('')}</ul>
<table><thead><tr><th>client</th><th>model</th><th>operation</th><th>protocol</th><th>policy</th><th>observed</th></tr></thead>
<tbody>
${rows}
</tbody></table>
</body></html>
`;
  await writeFile(join(reportDir, 'access-report.md'), md);
  await writeFile(join(reportDir, 'access-report.html'), html);
}
