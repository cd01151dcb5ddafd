import { parseEnv } from "node:util";
import { StartupError } from "./startup.ts";

/** The variables the `.env` file at `path` sets (dotenv syntax), or undefined when there is none: that is no error. */
export async function readEnvFile(path: string): Promise<Record<string, string> | undefined> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    const reason = error instanceof Error ? error.message : String(error);
    throw new StartupError(`${path} cannot be read (${reason}): make it a readable file, or remove it`);
  }
  // A blank value sets nothing, as in the environment itself (.env.sample leaves most blank).
  const set = Object.entries(parseEnv(text)).filter((entry): entry is [string, string] => Boolean(entry[1]));
  return Object.fromEntries(set);
}

/**
 * `file`'s variables under `environment`: a variable set in both keeps the environment's value, as with docker
 * compose and dotenv. Returns what the file adds, and the names it sets that the environment overrides.
 */
export function underEnvironment(environment: Record<string, string>, file: Record<string, string>) {
  const names = Object.keys(file).sort();
  const overridden = names.filter((name) => name in environment);
  const added = Object.fromEntries(names.filter((name) => !(name in environment)).map((name) => [name, file[name]]));
  return { added, overridden };
}
