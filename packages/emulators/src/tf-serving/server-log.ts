/** Where the emulator's log lines go: stderr for the CLI, a collector in tests. */
export type LogSink = (line: string) => void;

type Severity = 'I' | 'W' | 'E';

const pad = (value: number, width = 2) => String(value).padStart(width, '0');

/** TensorFlow's log prefix: `2020-03-24 07:18:06.077987: I <file>:<line>] `, local time, microseconds. */
function timestamp(now: Date, microsOffset: number): string {
  const date = `${now.getFullYear()}-${pad(now.getMonth() + 1)}-${pad(now.getDate())}`;
  const time = `${pad(now.getHours())}:${pad(now.getMinutes())}:${pad(now.getSeconds())}`;
  return `${date} ${time}.${pad(now.getMilliseconds() * 1000 + microsOffset, 6)}`;
}

/**
 * The model server's log, in TensorFlow's LOG() line format so that whatever waits for TF Serving's lines
 * (`Running gRPC ModelServer at ...`) finds them. `source` is the TF Serving file and line that logs the same
 * message (from tensorflow/serving master), kept so the lines read like the real server's.
 */
export class ServerLog {
  constructor(
    private readonly sink: LogSink,
    private readonly clock: () => Date = () => new Date(),
  ) {}

  info(source: string, message: string): void {
    this.write('I', source, message);
  }

  warn(source: string, message: string): void {
    this.write('W', source, message);
  }

  error(source: string, message: string): void {
    this.write('E', source, message);
  }

  /** A line without TensorFlow's prefix, for net_http's own `[file : line] NET_LOG: ...` lines. */
  raw(line: string): void {
    this.sink(line);
  }

  private write(severity: Severity, source: string, message: string): void {
    const micros = Math.floor((performance.now() % 1) * 1000);
    this.sink(`${timestamp(this.clock(), micros)}: ${severity} ${source}] ${message}`);
  }
}

/** A log that drops everything: for code that embeds the emulator and does not want its lines. */
export const SILENT_LOG = new ServerLog(() => {});
