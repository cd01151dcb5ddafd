import postgres from "postgres";
import { cleanUpOnExit, findExecutable, freePort, isRoot, run } from "./process.ts";

export type PostgresServer = {
  /** URL of the database created at start-up. */
  url: string;
  port: number;
  dataDir: string;
  /** Creates an empty database (from template0) and returns its URL. */
  createDatabase(name?: string): Promise<string>;
  /** Takes the server down, keeping its data, for fault tests. */
  stop(): Promise<void>;
  start(): Promise<void>;
  restart(): Promise<void>;
  /** Stops the server and removes its files. */
  destroy(): Promise<void>;
};

let databases = 0;

/** A throwaway PostgreSQL cluster on a free loopback port, tuned for speed over durability. */
export async function startPostgres(): Promise<PostgresServer> {
  const { initdb, pgCtl } = findBinaries();
  const root = await Deno.makeTempDir({ prefix: "exam-slots-pg-" });
  const dataDir = `${root}/data`;
  // initdb refuses to run as root: the cluster belongs to the postgres OS user.
  if (isRoot) await run("chown", ["postgres:", root]);
  const asOwner = (command: string, args: string[]) =>
    isRoot ? run("runuser", ["-u", "postgres", "--", command, ...args]) : run(command, args);

  const port = freePort();
  const options = [
    `-p ${port} -k ${root} -c listen_addresses=127.0.0.1`,
    "-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200",
  ].join(" ");
  const start = async () => {
    try {
      await asOwner(pgCtl, ["-D", dataDir, "-o", options, "-l", `${root}/postgres.log`, "-w", "start"]);
    } catch (error) {
      const log = await Deno.readTextFile(`${root}/postgres.log`).catch(() => "");
      throw new Error(`${(error as Error).message}\n${log}`);
    }
  };
  const stop = async () => void await asOwner(pgCtl, ["-D", dataDir, "-m", "fast", "-w", "stop"]);

  const stopCommand = `${isRoot ? "runuser -u postgres -- " : ""}'${pgCtl}' -D '${dataDir}' -m fast -w stop`;
  const destroy = cleanUpOnExit(root, `${stopCommand}; rm -rf '${root}'`);
  try {
    await asOwner(initdb, ["-D", dataDir, "-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8"]);
    await start();
    const createDatabase = async (name = `test_${++databases}_${crypto.randomUUID().slice(0, 8)}`) => {
      const admin = postgres(`postgres://postgres@127.0.0.1:${port}/postgres`, { max: 1, onnotice: () => {} });
      try {
        await admin`CREATE DATABASE ${admin(name)} TEMPLATE template0`;
      } finally {
        await admin.end();
      }
      return `postgres://postgres@127.0.0.1:${port}/${name}`;
    };
    const url = await createDatabase("test");
    return { url, port, dataDir, createDatabase, stop, start, restart: () => stop().then(start), destroy };
  } catch (error) {
    await destroy().catch(() => {});
    throw error;
  }
}

function findBinaries() {
  const dirs = ["/usr/lib/postgresql/15/bin"];
  const pgConfig = findExecutable("pg_config");
  if (pgConfig) {
    const { stdout } = new Deno.Command(pgConfig, { args: ["--bindir"] }).outputSync();
    dirs.push(new TextDecoder().decode(stdout).trim());
  }
  const initdb = findExecutable("initdb", dirs);
  const pgCtl = findExecutable("pg_ctl", dirs);
  if (!initdb || !pgCtl) {
    throw new Error(
      "PostgreSQL server binaries (initdb, pg_ctl) not found in /usr/lib/postgresql/15/bin, pg_config --bindir " +
        "or PATH: apt-get install postgresql-15 (or postgresql), or add its bin directory to PATH",
    );
  }
  return { initdb, pgCtl };
}
