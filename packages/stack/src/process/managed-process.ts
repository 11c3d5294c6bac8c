import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';

// A child process the stack owns: its output kept (the tail, for a failed start's message) and passed to a
// sink, its exit observed, and a stop that sends SIGTERM, waits, and kills what does not go.

export interface ManagedProcessOptions {
  /** The service it is, for messages: `kong`, `keycloak`, `tf-serving`. */
  name: string;
  command: string;
  args: readonly string[];
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Each output line, as it comes. */
  onLine?: (line: string) => void;
  /** Lines of output kept for `tail()`. */
  keepLines?: number;
}

/** A service process that exited before it was stopped. */
export class ProcessExitedError extends Error {
  override readonly name = 'ProcessExitedError';

  constructor(
    readonly service: string,
    readonly exitCode: number | null,
    readonly signal: NodeJS.Signals | null,
    readonly logTail: string[],
  ) {
    super(
      `${service} exited ${signal ? `on ${signal}` : `with code ${exitCode}`} before it was stopped; last lines:\n${logTail.map((line) => `  ${line}`).join('\n')}`,
    );
  }
}

export class ManagedProcess {
  readonly name: string;
  readonly #child: ChildProcess;
  readonly #lines: string[] = [];
  readonly #keep: number;
  #stopping = false;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;

  constructor(options: ManagedProcessOptions) {
    this.name = options.name;
    this.#keep = options.keepLines ?? 40;
    this.#child = spawn(options.command, [...options.args], {
      env: options.env ?? process.env,
      cwd: options.cwd,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    for (const stream of [this.#child.stdout, this.#child.stderr]) {
      let partial = '';
      stream?.setEncoding('utf8');
      stream?.on('data', (chunk: string) => {
        const parts = (partial + chunk).split('\n');
        partial = parts.pop() ?? '';
        for (const line of parts) this.#line(line, options.onLine);
      });
      stream?.on('end', () => {
        if (partial) this.#line(partial, options.onLine);
      });
    }
    this.exited = once(this.#child, 'exit').then(([code, signal]) => ({
      code: code as number | null,
      signal: signal as NodeJS.Signals | null,
    }));
    this.#child.on('error', (error) => this.#line(`spawn failed: ${error.message}`, options.onLine));
  }

  #line(line: string, sink: ((line: string) => void) | undefined): void {
    this.#lines.push(line);
    if (this.#lines.length > this.#keep) this.#lines.shift();
    sink?.(line);
  }

  get pid(): number | undefined {
    return this.#child.pid;
  }

  /** The last lines it wrote (stdout and stderr, interleaved as they came). */
  tail(): string[] {
    return [...this.#lines];
  }

  /** Rejects with ProcessExitedError if the process ends before stop() is called. */
  async failedExit(): Promise<never> {
    const { code, signal } = await this.exited;
    throw new ProcessExitedError(this.name, code, signal, this.tail());
  }

  get stopping(): boolean {
    return this.#stopping;
  }

  /** SIGTERM, then SIGKILL after `graceMs`; resolves when the process is gone. */
  async stop(graceMs = 5000): Promise<void> {
    this.#stopping = true;
    if (this.#child.exitCode !== null || this.#child.signalCode !== null) return;
    this.#child.kill('SIGTERM');
    const timer = setTimeout(() => this.#child.kill('SIGKILL'), graceMs);
    try {
      await this.exited;
    } finally {
      clearTimeout(timer);
    }
  }
}
