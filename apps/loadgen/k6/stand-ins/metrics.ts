import { standIn } from './k6-stand-in-log.js';

class Metric {
  constructor(readonly name: string) {}
  add(value: number, tags: Record<string, string> = {}): void {
    standIn.log.metrics.push({ name: this.name, value, tags });
  }
}

export class Trend extends Metric {}
export class Counter extends Metric {}
