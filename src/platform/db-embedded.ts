// The embedded database: PGlite in DATA_DIR, one process at a time, reached over a socket only its owner can open.
import { DatabaseOpenError } from "./db-open-error.ts";

const lockName = "exam-slots.lock";
const socketDir = "socket";

/** Where postgres.js finds the database: a unix socket, or (Windows) a loopback port. */
export type Embedded = { at: { path: string } | { host: string; port: number }; close(): Promise<void> };

/**
 * Opens PGlite in `dataDir` and serves it on a unix socket in `dataDir/socket/` (mode 0700: no other OS user can
 * connect, where a loopback port took anyone on the machine, as superuser, without a password). Deno has no unix
 * sockets on Windows (denoland/deno#18236): there it is still a loopback port.
 *
 * One process writes a PGlite folder: two would each keep their own copy of the pages in memory and overwrite each
 * other's. The first to take an exclusive lock (flock) on `dataDir/exam-slots.lock` holds the folder until it closes
 * or dies, since the kernel drops the lock with the process: a SIGKILL leaves nothing stale. Any other process opening
 * the folder meanwhile refuses before it touches a file, naming the holder's pid, which the holder writes there.
 */
export async function openEmbedded(dataDir: string): Promise<Embedded> {
  await Deno.mkdir(dataDir, { recursive: true, mode: 0o700 });
  const lock = await holdFolder(dataDir);
  try {
    // Loaded lazily: the WASM build is only needed without DATABASE_URL, and never on Deno Deploy.
    const { PGlite } = await import("@electric-sql/pglite");
    const { PGLiteSocketServer } = await import("@electric-sql/pglite-socket");
    const windows = Deno.build.os === "windows";
    const path = windows ? undefined : await socketPath(dataDir);
    const db = await PGlite.create(dataDir);
    const server = new PGLiteSocketServer(path ? { db, path } : { db, host: "127.0.0.1", port: 0 });
    await server.start();
    const [host, port] = server.getServerConn().split(":");
    return {
      at: path ? { path } : { host, port: Number(port) },
      async close() {
        await server.stop();
        await db.close();
        lock.close();
      },
    };
  } catch (error) {
    lock.close();
    throw error;
  }
}

/** The socket's path, in a folder only this OS user may enter; one left by a killed process is removed. */
async function socketPath(dataDir: string): Promise<string> {
  const dir = `${dataDir}/${socketDir}`;
  await Deno.mkdir(dir, { recursive: true, mode: 0o700 });
  await Deno.chmod(dir, 0o700); // made by hand, or with another umask
  const path = `${dir}/.s.PGSQL.5432`;
  await Deno.remove(path).catch(() => {}); // the lock says no process serves it any more
  return path;
}

async function holdFolder(dataDir: string): Promise<Deno.FsFile> {
  const path = `${dataDir}/${lockName}`;
  // Not truncated on open: the holder's pid is read from it when the lock is taken.
  const file = await Deno.open(path, { read: true, write: true, create: true });
  if (!await file.tryLock(true)) {
    file.close();
    const holder = (await Deno.readTextFile(path).catch(() => "")).trim();
    throw new DatabaseOpenError(
      `DATA_DIR ${dataDir} is in use by ${/^\d+$/.test(holder) ? `process ${holder}` : "another process"} ` +
        "(deno task start, migrate or create-admin): one process at a time opens the embedded database; stop that one first",
    );
  }
  await file.truncate(0);
  await file.write(new TextEncoder().encode(`${Deno.pid}\n`));
  return file;
}
