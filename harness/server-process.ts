// The real server as its own process, for the behaviours only a process shows: start-up, signals, logs.
import { delay, freePort } from "./process.ts";

const mainModule = new URL("../src/main.ts", import.meta.url).pathname;
export const jwtSecret = "production-test-secret-long-enough-for-hs256";
export const readOnly = ["--allow-net", "--allow-env", "--allow-read", "--allow-sys"];
const passthrough = ["PATH", "HOME", "DENO_DIR"];

export type ServerProcess = {
  url: string;
  child: Deno.ChildProcess;
  /** Every line the process printed so far, stdout and stderr. */
  lines: string[];
  /** Waits for the output streams to close, then for the exit status. */
  exited: Promise<Deno.CommandStatus>;
};

/** The environment of the server process: nothing inherited but what Deno itself needs. */
function serverEnv(env: Record<string, string>): Record<string, string> {
  const inherited = passthrough.flatMap((name) => {
    const value = Deno.env.get(name);
    return value === undefined ? [] : [[name, value]];
  });
  return { ...Object.fromEntries(inherited), APP_ENV: "production", BCRYPT_COST: "4", ...env };
}

function command(env: Record<string, string>, permissions: string[]) {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", ...permissions, mainModule],
    clearEnv: true,
    env: serverEnv(env),
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  });
}

async function collectLines(stream: ReadableStream<Uint8Array>, lines: string[]) {
  let rest = "";
  for await (const text of stream.pipeThrough(new TextDecoderStream())) {
    const parts = (rest + text).split("\n");
    rest = parts.pop()!;
    lines.push(...parts);
  }
  if (rest) lines.push(rest);
}

/** Starts `deno run src/main.ts` (production unless `env` says otherwise) on a free port; waits for /healthz. */
export async function startServer(env: Record<string, string>, permissions = [...readOnly, "--allow-write"]) {
  const port = freePort();
  const child = command({ PORT: String(port), ...env }, permissions).spawn();
  const lines: string[] = [];
  const drained = Promise.all([collectLines(child.stdout, lines), collectLines(child.stderr, lines)]);
  const exited = drained.then(() => child.status);
  const server: ServerProcess = { url: `http://127.0.0.1:${port}`, child, lines, exited };
  if (await answersHealthz(server.url, child)) return server;
  try {
    child.kill("SIGKILL");
  } catch { /* already exited */ }
  await exited;
  throw new Error(`the server did not start:\n${lines.join("\n")}`);
}

/** Polls `/healthz` until it answers (true), or the process exits or 30 s pass (false). */
export async function answersHealthz(url: string, child: Deno.ChildProcess): Promise<boolean> {
  const deadline = Date.now() + 30_000;
  let running = true;
  child.status.then(() => running = false);
  while (running && Date.now() < deadline) {
    try {
      await (await fetch(`${url}/healthz`)).body?.cancel();
      return true;
    } catch {
      await delay(100);
    }
  }
  return false;
}

export async function stopServer(server: ServerProcess) {
  try {
    server.child.kill("SIGTERM");
  } catch { /* already gone */ }
  await server.exited;
}

/** Runs the server to its end, for configurations that must refuse to start. */
export async function runToExit(env: Record<string, string>, permissions = readOnly) {
  const { code, stdout, stderr } = await command({ PORT: String(freePort()), ...env }, permissions).output();
  const output = new TextDecoder().decode(stdout) + new TextDecoder().decode(stderr);
  return { code, lines: output.split("\n").filter(Boolean) };
}

export async function call(server: { url: string }, path: string, init: RequestInit = {}) {
  const response = await fetch(`${server.url}${path}`, init);
  const text = await response.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch { /* not JSON */ }
  // deno-lint-ignore no-explicit-any -- response bodies are checked field by field
  return { status: response.status, headers: response.headers, body: body as any };
}

export const json = (body: unknown, headers: Record<string, string> = {}) => ({
  method: "POST",
  headers: { "Content-Type": "application/json", ...headers },
  body: JSON.stringify(body),
});

/** Runs a `deno task` of the project to its end with the given environment. */
export async function runTask(args: string[], env: Record<string, string>) {
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["task", "--quiet", ...args],
    cwd: new URL("..", import.meta.url).pathname,
    clearEnv: true,
    env: serverEnv(env),
    stdin: "null",
  }).output();
  return { code, output: new TextDecoder().decode(stdout) + new TextDecoder().decode(stderr) };
}
