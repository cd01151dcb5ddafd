// `deno task start` and `deno task dev`: reads ./.env, then runs src/main.ts with permissions derived from DATA_DIR,
// so that DATA_DIR works wherever it points while the server may still touch nothing else. Imports nothing from npm:
// it starts in milliseconds, and before node_modules/ exists.
import { fileURLToPath } from "node:url";
import { defaultDataDir } from "../platform/data-dir.ts";
import { readEnvFile, underEnvironment } from "../platform/env-file.ts";
import { exitOnStartupError, StartupError } from "../platform/startup.ts";

const own = (path: string) => fileURLToPath(new URL(`../../${path}`, import.meta.url));

/**
 * Everything the server may touch: DATA_DIR (read and write), and the files it loads at run time (read): the
 * migrations, node_modules/ (PGlite reads its WASM and data files from its package) and the password worker's module.
 */
export function serverPermissions(dataDir: string): string[] {
  if (dataDir.includes(",")) {
    throw new StartupError(`DATA_DIR=${dataDir} has a comma, which Deno's permission lists cannot hold: rename it`);
  }
  const reads = [dataDir, own("migrations"), own("node_modules"), own("src/auth/password-worker.ts")];
  return ["--allow-net", "--allow-env", "--allow-sys", `--allow-read=${reads.join(",")}`, `--allow-write=${dataDir}`];
}

/** The `deno` arguments that run the server, `--watch` for `deno task dev`. */
export function serverArgs(dataDir: string, { watch = false } = {}): string[] {
  return [
    "run",
    // The server's own lines only: not Deno's as it fills node_modules/ on a first start.
    "--quiet",
    ...(watch ? ["--watch"] : []),
    `--config=${own("deno.json")}`,
    // Deno installs every package of its lockfile: this one holds the server's alone (`deno task server-lock`).
    `--lock=${own("deno.server.lock")}`,
    // In node_modules/, a path the permissions can name, unlike the global cache's, which depends on the machine.
    "--node-modules-dir=auto",
    ...serverPermissions(dataDir),
    own("src/main.ts"),
  ];
}

/** The line that says where the extra variables came from, and that the environment wins over the file. */
function envFileNotice(path: string, added: string[], overridden: string[]): string {
  const wins = overridden.length > 0
    ? `the environment wins over it for ${overridden.join(", ")}`
    : "a variable also set in the environment would keep the environment's value";
  return `read ${path} (${added.length} of its variables used): ${wins}`;
}

async function start(watch: boolean): Promise<never> {
  const { env, args } = await exitOnStartupError(async () => {
    const environment = Deno.env.toObject();
    const file = await readEnvFile(".env");
    const { added, overridden } = underEnvironment(environment, file ?? {});
    if (file) console.error(envFileNotice(`${Deno.cwd()}/.env`, Object.keys(added), overridden));
    const dataDir = { ...added, ...environment }.DATA_DIR || defaultDataDir;
    return { env: added, args: serverArgs(dataDir, { watch }) };
  });
  const server = await exitOnStartupError(() => {
    try {
      return new Deno.Command("deno", { args, env }).spawn();
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
      throw new StartupError("`deno` is not on PATH, so the server cannot be started: add deno's folder to PATH");
    }
  });
  const pass = (signal: Deno.Signal) => {
    try {
      server.kill(signal);
    } catch { /* it has exited already */ }
  };
  // The server shuts down gracefully on either; a terminal's Ctrl-C reaches both processes, a `kill` only this one.
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    Deno.addSignalListener(signal, () => {
      pass(signal);
      // Under --watch, the server's exit leaves Deno's watcher waiting for a change: the same signal again ends it.
      if (watch) setInterval(() => pass(signal), 500);
    });
  }
  Deno.exit((await server.status).code);
}

if (import.meta.main) await start(Deno.args.includes("--watch"));
