/** A stack that did not come up: which service failed, why, and the tail of its log. */
export class StackStartError extends Error {
  override readonly name = 'StackStartError';

  constructor(
    readonly service: string,
    override readonly cause: unknown,
    readonly logTail: string[],
  ) {
    const reason = cause instanceof Error ? cause.message : String(cause);
    const tail =
      logTail.length > 0
        ? `\nlast lines of ${service}:\n${logTail.map((line) => `  ${line}`).join('\n')}`
        : '';
    super(`${service} failed to start: ${reason}${tail}`);
  }
}
