/**
 * Waits until `check` holds, polling every `intervalMs`; it has no deadline of its own, so the test's timeout is
 * the limit. For what a test cannot be told directly (a file written, a poll that picked a change up), in place
 * of a sleep that a loaded machine can outlast.
 */
export async function eventually(check: () => boolean | Promise<boolean>, intervalMs = 50): Promise<void> {
  while (!(await check())) await new Promise((resolve) => setTimeout(resolve, intervalMs));
}
