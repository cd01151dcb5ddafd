import type { Sql } from "./db.ts";

const defaultDir = new URL("../../migrations/", import.meta.url);
// Any constant shared by every instance: only one of them applies migrations at a time.
const migrationLock = 7_240_915;

/** Applies every `NNNN_name.sql` not yet recorded, in order, each in its own transaction. */
export async function migrate(sql: Sql, dir: URL = defaultDir): Promise<string[]> {
  const files = [];
  for await (const entry of Deno.readDir(dir)) {
    if (entry.isFile && /^\d{4}_[\w-]+\.sql$/.test(entry.name)) files.push(entry.name);
  }
  files.sort();
  // Under the lock too: two instances creating the table at once would collide even with IF NOT EXISTS.
  await sql.begin(async (tx) => {
    // A migration (or the wait for another instance's) may outlast the statement_timeout meant for requests.
    await tx`SET LOCAL statement_timeout = 0`;
    await tx`SELECT pg_advisory_xact_lock(${migrationLock})`;
    await tx`CREATE TABLE IF NOT EXISTS schema_migrations (
      name text PRIMARY KEY,
      applied_at timestamptz NOT NULL DEFAULT now()
    )`;
  });
  const applied: string[] = [];
  for (const name of files) {
    const text = await Deno.readTextFile(new URL(name, dir));
    const done = await sql.begin(async (tx) => {
      await tx`SET LOCAL statement_timeout = 0`;
      await tx`SELECT pg_advisory_xact_lock(${migrationLock})`;
      const [seen] = await tx`SELECT 1 FROM schema_migrations WHERE name = ${name}`;
      if (seen) return false;
      await tx.unsafe(text);
      await tx`INSERT INTO schema_migrations (name) VALUES (${name})`;
      return true;
    });
    if (done) applied.push(name);
  }
  return applied;
}
