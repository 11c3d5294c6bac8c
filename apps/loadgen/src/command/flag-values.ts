import { InvalidArgumentError } from 'commander';
import type { ArrivalSchedule } from '../schedule/arrival-schedule.js';

// Parsers for flag values, each refusing bad input with what it expected.

/** `500ms`, `2s`, `1.5m`, or a bare number of ms. */
export function durationMs(value: string): number {
  const match = /^([0-9]*\.?[0-9]+)\s*(ms|s|m)?$/.exec(value.trim());
  if (!match)
    throw new InvalidArgumentError(
      `expected a duration such as 500ms, 2s or 1m, got ${JSON.stringify(value)}`,
    );
  const scale = match[2] === 's' ? 1000 : match[2] === 'm' ? 60_000 : 1;
  return Number(match[1]) * scale;
}

export function positiveInteger(value: string): number {
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < 1)
    throw new InvalidArgumentError(`must be a positive integer, got ${value}`);
  return parsed;
}

export function positiveNumber(value: string): number {
  const parsed = Number(value);
  if (!Number.isFinite(parsed) || parsed <= 0)
    throw new InvalidArgumentError(`must be a number > 0, got ${value}`);
  return parsed;
}

export function share(value: string): number {
  const parsed = Number(value);
  if (!Number.isFinite(parsed) || parsed < 0 || parsed > 1)
    throw new InvalidArgumentError(`must be between 0 and 1, got ${value}`);
  return parsed;
}

export function integerList(value: string): number[] {
  return value.split(',').map((part) => positiveInteger(part.trim()));
}

export function numberList(value: string): number[] {
  return value.split(',').map((part) => positiveNumber(part.trim()));
}

/** `50:2s,100:2s` */
export function stepStages(value: string): ArrivalSchedule {
  const stages = value.split(',').map((part) => {
    const [rate, duration] = part.split(':');
    if (rate === undefined || duration === undefined) {
      throw new InvalidArgumentError(
        `expected RATE:DURATION[,RATE:DURATION...] such as 50:2s,100:2s, got ${JSON.stringify(value)}`,
      );
    }
    return { rate: Number(rate), durationMs: durationMs(duration) };
  });
  return { kind: 'step', stages };
}

/** `10..100:5s` */
export function rampSpec(value: string): ArrivalSchedule {
  const match = /^([0-9.]+)\.\.([0-9.]+):(.+)$/.exec(value.trim());
  if (!match)
    throw new InvalidArgumentError(
      `expected FROM..TO:DURATION such as 10..100:5s, got ${JSON.stringify(value)}`,
    );
  return {
    kind: 'ramp',
    from: Number(match[1]),
    to: Number(match[2]),
    durationMs: durationMs(match[3] as string),
  };
}

/** `p99<=50ms` */
export function sloSpec(value: string): { percentile: 'p50' | 'p90' | 'p99' | 'p999'; ms: number } {
  const match = /^(p50|p90|p99|p999)\s*<=?\s*([0-9.]+)\s*(ms|s)?$/.exec(value.trim());
  if (!match)
    throw new InvalidArgumentError(
      `expected PERCENTILE<=LATENCY such as p99<=50ms, got ${JSON.stringify(value)}`,
    );
  return {
    percentile: match[1] as 'p50' | 'p90' | 'p99' | 'p999',
    ms: Number(match[2]) * (match[3] === 's' ? 1000 : 1),
  };
}
