/**
 * A start-up failure a person can fix: its message is the whole report, one line naming the cause and the fix.
 * Thrown from anywhere start-up runs (configuration, the port, DATA_DIR, the database); `exitOnStartupError` prints it.
 */
export class StartupError extends Error {}

/** Deno's refusal to touch something this process was not allowed to (`--allow-*`), in the same words. */
function missingPermission(error: Deno.errors.NotCapable): StartupError {
  const reason = error.message.replace(/, run again with .*$/, "");
  return new StartupError(`${reason}: start the server with \`deno task start\`, which allows what it needs`);
}

/**
 * Runs a start-up step. A StartupError (or a missing permission) becomes its one line on stderr and exit code 1, with
 * no stack trace, once `cleanup` has released what the step had opened; anything else is a bug and keeps its stack.
 */
export async function exitOnStartupError<T>(step: () => T | Promise<T>, cleanup?: () => Promise<void>): Promise<T> {
  try {
    return await step();
  } catch (error) {
    const failure = error instanceof Deno.errors.NotCapable ? missingPermission(error) : error;
    if (!(failure instanceof StartupError)) throw error;
    await cleanup?.().catch(() => {});
    console.error(failure.message);
    Deno.exit(1);
  }
}
