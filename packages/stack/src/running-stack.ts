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
  /**
   * Stopping and starting one service again (same ports, same files), where the provider can: what the contract
   * suite's fault cases need. Absent for a remote stack.
   */
  control?: {
    stopService(service: string): Promise<void>;
    startService(service: string): Promise<void>;
  };
  /** Stops everything the provider started (nothing for remote); safe to call more than once. */
  stop(): Promise<void>;
}
