/** Runs a command to completion; a non-zero exit throws with its output. */
export async function run(command: string, args: string[]): Promise<string> {
  const { success, stdout, stderr } = await new Deno.Command(command, { args, stdin: "null" }).output();
  const text = new TextDecoder().decode(stdout);
  if (!success) {
    throw new Error(`${command} ${args.join(" ")} failed:\n${text}${new TextDecoder().decode(stderr)}`);
  }
  return text;
}

/** A loopback port nobody listens on right now. */
export function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr;
  listener.close();
  return port;
}

/** The first executable named `name` in `dirs`, then on PATH. */
export function findExecutable(name: string, dirs: string[] = []): string | undefined {
  const path = Deno.env.get("PATH")?.split(":") ?? [];
  for (const dir of [...dirs, ...path]) {
    const candidate = `${dir}/${name}`;
    try {
      if (Deno.statSync(candidate).isFile) return candidate;
    } catch { /* not here */ }
  }
}

export const isRoot = Deno.uid() === 0;

/**
 * Makes sure `script` (a shell command that stops a daemon and removes `dir`) runs however the test run ends:
 * the returned function runs it now; an unload handler runs it when the test file's runtime ends; and a detached
 * watchdog runs it if this process dies without unloading (SIGINT, SIGKILL, crash). The daemons are not our
 * children, so nothing else would ever stop them. The watchdog retires once `dir` is gone.
 */
export function cleanUpOnExit(dir: string, script: string): () => Promise<void> {
  const onUnload = () => new Deno.Command("sh", { args: ["-c", script], stdout: "null", stderr: "null" }).outputSync();
  globalThis.addEventListener("unload", onUnload);
  const watchdog = `while kill -0 ${Deno.pid} 2>/dev/null; do [ -e '${dir}' ] || exit 0; sleep 0.5; done; ${script}`;
  new Deno.Command("sh", { args: ["-c", `setsid sh -c "$0" </dev/null >/dev/null 2>&1 &`, watchdog] }).outputSync();
  return async () => {
    globalThis.removeEventListener("unload", onUnload);
    await run("sh", ["-c", script]);
  };
}

export const delay = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
