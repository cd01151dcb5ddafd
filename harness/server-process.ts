// The real server as its own process, for the behaviours only a process shows: start-up, signals, logs.
import { delay, freePort } from "./process.ts";

const mainModule = new URL("../src/main.ts", import.meta.url).pathname;
const root = new URL("..", import.meta.url).pathname;
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

/**
 * `deno task start` (or `dev`) as a person runs it, but from `cwd`, where its `.env` would be: the task's own command
 * line from deno.json (`deno task` itself would run it in the repository), with nothing of the environment but `env`
 * and what Deno itself needs.
 */
function taskCommand(task: "start" | "dev", env: Record<string, string>, cwd: string) {
  const [deno, ...args] = JSON.parse(Deno.readTextFileSync(`${root}deno.json`)).tasks[task].split(" ");
  const passed = { ...serverEnv({}), APP_ENV: "development", ...env };
  return new Deno.Command(deno === "deno" ? Deno.execPath() : deno, {
    args: args.map((arg: string) => arg.endsWith(".ts") ? root + arg : arg),
    cwd,
    clearEnv: true,
    env: passed,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  });
}

/** Starts `deno run src/main.ts` (production unless `env` says otherwise) on a free port; waits for /healthz. */
export function startServer(env: Record<string, string>, permissions = [...readOnly, "--allow-write"]) {
  const port = freePort();
  return started(command({ PORT: String(port), ...env }, permissions), port);
}

/**
 * Starts `deno task start` (development unless `env` says otherwise) from `cwd` on a free port; waits for /healthz.
 * A fresh server with an admin, as a newcomer's first start makes it: `startTask({ ADMIN_EMAIL, ADMIN_PASSWORD,
 * DATA_DIR }, folder)`, or the same variables in `folder/.env`.
 */
export function startTask(env: Record<string, string>, cwd: string, task: "start" | "dev" = "start") {
  const port = freePort();
  return started(taskCommand(task, { PORT: String(port), ...env }, cwd), port);
}

async function started(command: Deno.Command, port: number): Promise<ServerProcess> {
  const child = command.spawn();
  const lines: string[] = [];
  const drained = Promise.all([collectLines(child.stdout, lines), collectLines(child.stderr, lines)]);
  const exited = drained.then(() => child.status);
  const server: ServerProcess = { url: `http://127.0.0.1:${port}`, child, lines, exited };
  if (await answersHealthz(server.url, child)) return server;
  // SIGTERM first: `deno task start` passes it on to the server it runs, which a SIGKILL would leave behind.
  const kill = (signal: Deno.Signal) => {
    try {
      child.kill(signal);
    } catch { /* already exited */ }
  };
  kill("SIGTERM");
  const deadline = setTimeout(() => kill("SIGKILL"), 5000);
  await exited;
  clearTimeout(deadline);
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
  return outcome(await command({ PORT: String(freePort()), ...env }, permissions).output());
}

/** Runs `deno task start` from `cwd` to its end, for starts that must fail. */
export async function runTaskToExit(env: Record<string, string>, cwd: string) {
  return outcome(await taskCommand("start", { PORT: String(freePort()), ...env }, cwd).output());
}

/** The exit code and every line printed, stdout and stderr. */
function outcome({ code, stdout, stderr }: Deno.CommandOutput) {
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
