import type { StackDescription } from './stack-description.js';

/** A service's start, as providers report it for progress display. */
export interface StackProgress {
  service: string;
  state: 'starting' | 'ready' | 'failed';
  /** Since the stack's start. */
  elapsedMs: number;
}

/** A stack a provider started (or, for remote, found): its description and how to tear it down. */
export interface RunningStack {
  description: StackDescription;
  /** The local processes it runs (emulators), for checks that teardown leaves none behind. */
  processes: { service: string; pid: number }[];
  /** Stops everything the provider started (nothing for remote); safe to call more than once. */
  stop(): Promise<void>;
}
