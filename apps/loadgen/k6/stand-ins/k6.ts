import { standIn } from './k6-stand-in-log.js';

/** k6's check(): runs each predicate, records the names that passed. */
export function check<T>(value: T, checks: Record<string, (value: T) => boolean>): boolean {
  let all = true;
  for (const [name, predicate] of Object.entries(checks)) {
    const passed = predicate(value);
    if (passed) standIn.log.checks.push(name);
    all &&= passed;
  }
  return all;
}
