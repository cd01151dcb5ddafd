// `deno task server-lock`: writes deno.server.lock, deno.lock cut down to the packages of deno.json's `imports` (and
// what they depend on), at the versions deno.lock pins. Deno installs every package of the lockfile it runs with, so
// `deno task start` runs with this one: the test, bench and tooling packages (`scopes`) stay out of node_modules/.
import { fileURLToPath } from "node:url";

export const serverLockPath = new URL("../deno.server.lock", import.meta.url);
const lockPath = new URL("../deno.lock", import.meta.url);
const configPath = new URL("../deno.json", import.meta.url);

type Lock = {
  version: string;
  specifiers: Record<string, string>;
  npm: Record<string, { dependencies?: string[]; optionalDependencies?: string[] }>;
  [section: string]: unknown;
};

/** `npm:/hono@^4/` and `npm:hono@^4` → `hono`; `npm:@scope/name@1` → `@scope/name`. */
const packageName = (specifier: string) => specifier.replace(/^npm:\/?/, "").replace(/(?<=.)@.*$/, "");

/** The lockfile of the packages `imports` names, and every package they depend on. */
export function serverLock(lock: Lock, imports: Record<string, string>): Lock {
  const wanted = new Set(Object.values(imports).filter((s) => s.startsWith("npm:")).map(packageName));
  const specifiers = Object.fromEntries(
    Object.entries(lock.specifiers).filter(([specifier]) => wanted.has(packageName(specifier))),
  );
  const keys = Object.keys(lock.npm);
  // A dependency is named alone when the lockfile holds one version of it, else with its version.
  const resolve = (dependency: string) =>
    keys.find((key) => key === dependency || key.startsWith(`${dependency}_`)) ??
      keys.find((key) => packageName(key) === dependency);
  const kept = new Set<string>();
  const visit = (key: string | undefined) => {
    if (!key || kept.has(key)) return;
    kept.add(key);
    const { dependencies = [], optionalDependencies = [] } = lock.npm[key];
    for (const dependency of [...dependencies, ...optionalDependencies]) visit(resolve(dependency));
  };
  for (const [specifier, version] of Object.entries(specifiers)) visit(`${packageName(specifier)}@${version}`);
  const npm = Object.fromEntries(keys.filter((key) => kept.has(key)).map((key) => [key, lock.npm[key]]));
  return { ...lock, specifiers, npm };
}

/** deno.server.lock as this task writes it, from the committed deno.lock and deno.json. */
export async function serverLockText(): Promise<string> {
  const lock: Lock = JSON.parse(await Deno.readTextFile(lockPath));
  const { imports } = JSON.parse(await Deno.readTextFile(configPath));
  return JSON.stringify(serverLock(lock, imports), null, 2) + "\n";
}

if (import.meta.main) {
  await Deno.writeTextFile(serverLockPath, await serverLockText());
  console.error(`wrote ${fileURLToPath(serverLockPath)}`);
}
