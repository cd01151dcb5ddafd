import type { Sql, Tx } from "./db.ts";

const defaultDir = new URL("../../migrations/", import.meta.url);
// Any constant shared by every instance: only one of them changes the schema at a time.
const migrationLock = 7_240_915;

/**
 * Applies every `NNNN_name.sql` of `dir` not yet recorded, in order, each in its own transaction; returns their names.
 * Then the current definitions of `dir/definitions/` (functions and triggers, `NN_name.sql`): each one whose text
 * differs from the one last applied is applied again. They go in the transaction of the last migration applied, so a
 * migration that drops what a definition replaces never leaves the database without it.
 */
export async function migrate(sql: Sql, dir: URL = defaultDir): Promise<string[]> {
  const [migrations, definitions] = await Promise.all([sqlFiles(dir, /^\d{4}_[\w-]+\.sql$/), readDefinitions(dir)]);
  // Under the lock too: two instances creating the tables at once would collide even with IF NOT EXISTS.
  await locked(sql, async (tx) => {
    await tx`CREATE TABLE IF NOT EXISTS schema_migrations (
      name text PRIMARY KEY,
      applied_at timestamptz NOT NULL DEFAULT now()
    )`;
    await tx`CREATE TABLE IF NOT EXISTS schema_definitions (
      name text PRIMARY KEY,
      text_sha256 text NOT NULL,
      applied_at timestamptz NOT NULL DEFAULT now()
    )`;
  });
  const applied: string[] = [];
  let definitionsApplied = false;
  for (const [index, name] of migrations.entries()) {
    const text = await Deno.readTextFile(new URL(name, dir));
    const last = index === migrations.length - 1;
    const done = await locked(sql, async (tx) => {
      const [seen] = await tx`SELECT 1 FROM schema_migrations WHERE name = ${name}`;
      if (seen) return false;
      await tx.unsafe(text);
      await tx`INSERT INTO schema_migrations (name) VALUES (${name})`;
      if (last) {
        await applyDefinitions(tx, definitions);
        definitionsApplied = true;
      }
      return true;
    });
    if (done) applied.push(name);
  }
  if (!definitionsApplied) await locked(sql, (tx) => applyDefinitions(tx, definitions));
  return applied;
}

type Definition = { name: string; text: string; sha256: string };

async function sqlFiles(dir: URL, pattern: RegExp): Promise<string[]> {
  const names = [];
  try {
    for await (const entry of Deno.readDir(dir)) {
      if (entry.isFile && pattern.test(entry.name)) names.push(entry.name);
    }
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  return names.sort();
}

async function readDefinitions(dir: URL): Promise<Definition[]> {
  const folder = new URL("definitions/", dir);
  const names = await sqlFiles(folder, /^\d{2}_[\w-]+\.sql$/);
  return await Promise.all(names.map(async (name) => {
    const text = await Deno.readTextFile(new URL(name, folder));
    const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
    return { name, text, sha256: new Uint8Array(digest).toHex() };
  }));
}

/** The definitions whose text changed since they were last applied, in order. */
async function applyDefinitions(tx: Tx, definitions: Definition[]) {
  const recorded = new Map(
    (await tx<{ name: string; text_sha256: string }[]>`SELECT name, text_sha256 FROM schema_definitions`)
      .map((row) => [row.name, row.text_sha256]),
  );
  for (const { name, text, sha256 } of definitions) {
    if (recorded.get(name) === sha256) continue;
    await tx.unsafe(text);
    await tx`
      INSERT INTO schema_definitions (name, text_sha256) VALUES (${name}, ${sha256})
      ON CONFLICT (name) DO UPDATE SET text_sha256 = excluded.text_sha256, applied_at = now()`;
  }
}

function locked<T>(sql: Sql, body: (tx: Tx) => Promise<T>): Promise<T> {
  return sql.begin(async (tx) => {
    // A migration (or the wait for another instance's) may outlast the statement_timeout meant for requests.
    await tx`SET LOCAL statement_timeout = 0`;
    await tx`SELECT pg_advisory_xact_lock(${migrationLock})`;
    return await body(tx);
  }) as Promise<T>;
}
