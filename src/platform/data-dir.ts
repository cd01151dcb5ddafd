import { StartupError } from "./startup.ts";

/** Where the embedded database keeps its files when DATA_DIR is not set. */
export const defaultDataDir = ".data";

/** The file PostgreSQL (and so PGlite) keeps at the top of a data folder. */
const databaseMarker = "PG_VERSION";

/**
 * Makes DATA_DIR ready for the embedded database, or throws a StartupError saying why it cannot be and what to do.
 * Run before the database is opened, so a refusal leaves nothing behind.
 */
export async function prepareDataDir(path: string): Promise<void> {
  const named = `DATA_DIR=${path}`;
  const read = await Deno.permissions.query({ name: "read", path });
  const write = await Deno.permissions.query({ name: "write", path });
  if (read.state !== "granted" || write.state !== "granted") {
    throw new StartupError(
      `${named} is outside what this process may read and write: start the server with \`deno task start\` ` +
        `(it allows DATA_DIR wherever it points), or add --allow-read=${path} --allow-write=${path} to deno run`,
    );
  }
  try {
    await Deno.mkdir(path, { recursive: true });
  } catch (error) {
    if (error instanceof Deno.errors.AlreadyExists || error instanceof Deno.errors.NotADirectory) {
      throw new StartupError(`${named} is a file, or inside one: point DATA_DIR at a folder (it is made if missing)`);
    }
    if (error instanceof Deno.errors.PermissionDenied) {
      throw new StartupError(`${named} cannot be made (permission denied): point DATA_DIR at a folder this user owns`);
    }
    throw error;
  }
  await assertHoldsOnlyADatabase(path, named);
  await assertWritable(path, named);
}

/** A folder of other files (a home folder, the repository) is refused rather than filled with PostgreSQL's. */
async function assertHoldsOnlyADatabase(path: string, named: string) {
  const names: string[] = [];
  for await (const entry of Deno.readDir(path)) names.push(entry.name);
  const visible = names.filter((name) => !name.startsWith("."));
  if (visible.length > 0 && !names.includes(databaseMarker)) {
    throw new StartupError(
      `${named} holds other files (${visible.slice(0, 3).join(", ")}) and no database: ` +
        "point DATA_DIR at a new or empty folder",
    );
  }
}

async function assertWritable(path: string, named: string) {
  try {
    await Deno.remove(await Deno.makeTempFile({ dir: path, prefix: ".write-check-" }));
  } catch (error) {
    if (!(error instanceof Deno.errors.PermissionDenied)) throw error;
    throw new StartupError(`${named} is not writable by this user: give it write access, or point DATA_DIR elsewhere`);
  }
}
