// Where the emulator reads the time: Kong reads ngx.now() (jwt's exp/nbf in seconds, rate-limiting's windows in
// milliseconds). Tests pass a ManualClock to step across windows and expiries without waiting.

export interface KongClock {
  /** Milliseconds since the Unix epoch. */
  now(): number;
}

export const SYSTEM_CLOCK: KongClock = { now: () => Date.now() };

/** A clock that moves only when told to. */
export class ManualClock implements KongClock {
  constructor(private millis: number) {}

  now(): number {
    return this.millis;
  }

  set(millis: number): void {
    this.millis = millis;
  }

  advance(millis: number): void {
    this.millis += millis;
  }
}
