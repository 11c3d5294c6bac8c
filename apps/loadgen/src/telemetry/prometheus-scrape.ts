import type { PrometheusDelta } from '../report/load-report.js';

// The gateway's and the model server's Prometheus pages, read before and after a run: the counters that
// moved (requests, latency sums and buckets, bytes) are reported as deltas by series.

/** Parses Prometheus text exposition: `series -> value` for every sample line (comments skipped). */
export function parsePrometheusText(text: string): Map<string, number> {
  const samples = new Map<string, number>();
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    // series (with labels, which may hold spaces inside quotes), value, optional timestamp
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*(?:\{.*\})?)\s+(\S+)(?:\s+\d+)?$/.exec(line);
    if (!match) continue;
    const value = Number(match[2] === '+Inf' ? Infinity : match[2]);
    if (!Number.isNaN(value)) samples.set(match[1] as string, value);
  }
  return samples;
}

export function counterDeltas(
  before: Map<string, number>,
  after: Map<string, number>,
): Record<string, number> {
  const deltas: Record<string, number> = {};
  for (const [series, value] of after) {
    const delta = value - (before.get(series) ?? 0);
    if (delta !== 0 && Number.isFinite(delta)) deltas[series] = Math.round(delta * 1e6) / 1e6;
  }
  return deltas;
}

export interface PrometheusSource {
  source: string;
  url: string;
}

async function scrape(url: string, signal: AbortSignal): Promise<Map<string, number>> {
  const response = await fetch(url, { signal });
  if (!response.ok) throw new Error(`GET ${url}: HTTP ${response.status}`);
  return parsePrometheusText(await response.text());
}

/** Scrapes every source now; `finish()` scrapes again and gives the deltas (or each source's error). */
export async function startScrape(
  sources: PrometheusSource[],
): Promise<{ finish(): Promise<PrometheusDelta[]> }> {
  const timeout = () => AbortSignal.timeout(5_000);
  const before = await Promise.all(
    sources.map((source) =>
      scrape(source.url, timeout()).then(
        (samples) => ({ samples }),
        (error: Error) => ({ error }),
      ),
    ),
  );
  return {
    async finish() {
      return Promise.all(
        sources.map(async (source, i) => {
          const first = before[i] as { samples: Map<string, number> } | { error: Error };
          if ('error' in first) return { ...source, error: first.error.message, deltas: {} };
          try {
            return {
              ...source,
              error: null,
              deltas: counterDeltas(first.samples, await scrape(source.url, timeout())),
            };
          } catch (error) {
            return { ...source, error: (error as Error).message, deltas: {} };
          }
        }),
      );
    },
  };
}
