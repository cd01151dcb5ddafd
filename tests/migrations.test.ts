import { assertEquals } from "./support/assert.ts";
import { freshDatabase } from "../harness/servers.ts";
import { openDatabase } from "../src/platform/db.ts";
import { migrate } from "../src/platform/migrate.ts";

async function migrationFiles(): Promise<string[]> {
  const names = [];
  for await (const entry of Deno.readDir(new URL("../migrations/", import.meta.url))) names.push(entry.name);
  return names.filter((name) => name.endsWith(".sql")).sort();
}

Deno.test("migrations apply in order once, are recorded, and a second run applies nothing", async () => {
  const database = await openDatabase({ DATABASE_URL: await freshDatabase(), DATA_DIR: "", DB_POOL_MAX: 4 });
  try {
    const files = await migrationFiles();
    assertEquals(await migrate(database.sql), files);
    assertEquals(await migrate(database.sql), []);
    const recorded = await database.sql`SELECT name FROM schema_migrations ORDER BY name`;
    assertEquals(recorded.map((row) => row.name), files);
  } finally {
    await database.close();
  }
});

Deno.test("instances starting together apply each migration exactly once", async () => {
  const url = await freshDatabase();
  const databases = await Promise.all(
    [1, 2, 3].map(() => openDatabase({ DATABASE_URL: url, DATA_DIR: "", DB_POOL_MAX: 2 })),
  );
  try {
    const applied = await Promise.all(databases.map((database) => migrate(database.sql)));
    assertEquals(applied.flat().sort(), await migrationFiles());
  } finally {
    await Promise.all(databases.map((database) => database.close()));
  }
});

Deno.test("a migration that fails leaves nothing half-applied", async () => {
  const dir = await Deno.makeTempDir({ prefix: "exam-slots-migrations-" });
  const database = await openDatabase({ DATABASE_URL: await freshDatabase(), DATA_DIR: "", DB_POOL_MAX: 2 });
  try {
    await Deno.writeTextFile(`${dir}/0001_ok.sql`, "CREATE TABLE kept (id int);");
    await Deno.writeTextFile(`${dir}/0002_broken.sql`, "CREATE TABLE half (id int); SELECT no_such_function();");
    const failed = await migrate(database.sql, new URL(`file://${dir}/`)).then(() => false, () => true);
    assertEquals(failed, true);
    const tables = await database.sql`SELECT tablename FROM pg_tables WHERE tablename IN ('kept', 'half')`;
    assertEquals(tables.map((row) => row.tablename), ["kept"]);
    const recorded = await database.sql`SELECT name FROM schema_migrations`;
    assertEquals(recorded.map((row) => row.name), ["0001_ok.sql"]);
  } finally {
    await database.close();
    await Deno.remove(dir, { recursive: true });
  }
});
