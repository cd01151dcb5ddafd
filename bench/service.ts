import { systemClock } from "../src/platform/clock.ts";
import { openDatabase, type Sql } from "../src/platform/db.ts";
import { migrate } from "../src/platform/migrate.ts";
import { hashPassword } from "../src/auth/passwords.ts";
import { createUser } from "../src/users/users.service.ts";
import { loadConfig } from "../src/config.ts";
import type { User } from "../src/auth/auth.schemas.ts";
import { freshDatabase } from "../harness/servers.ts";
import { freePort } from "../harness/process.ts";
import { answersHealthz } from "../harness/server-process.ts";
import type { Options } from "./options.ts";
import { api } from "../harness/paths.ts";

/** The defaults the server runs with, as the bench leaves capacity, slots and bcrypt cost unset. */
export const defaults = loadConfig({}, () => {});

export type Reply = { status: number; text: string };
export type Call = (method: string, path: string, init?: { token?: string; body?: unknown }) => Promise<Reply>;

export type Service = {
  /** The bench's own pool on the same database: seeding, checks and the raw-SQL references. */
  sql: Sql;
  call: Call;
  /** A user inserted directly and logged in through the API. */
  user(name: string, isAdmin?: boolean): Promise<User & { password: string; access: string }>;
  stop(): Promise<void>;
};

const serverPath = new URL("./server.ts", import.meta.url).pathname;
const secret = crypto.randomUUID() + crypto.randomUUID();

/** A fresh, migrated database and the server as its own process on loopback, as in production. */
export async function startService(options: Options): Promise<Service> {
  const databaseUrl = await freshDatabase();
  const database = await openDatabase({ DATABASE_URL: databaseUrl, DATA_DIR: ".data", DB_POOL_MAX: options.pool });
  await migrate(database.sql);
  const port = freePort();
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", serverPath],
    env: {
      DATABASE_URL: databaseUrl,
      JWT_SECRET: secret,
      APP_ENV: "production",
      PORT: String(port),
      DB_POOL_MAX: String(options.pool),
      UPSTASH_REDIS_REST_URL: "",
      ADMIN_EMAIL: "",
      // The load comes from a few accounts on one address: the per-customer and per-address limits would refuse it.
      MAX_PENDING_PER_USER: "10000000",
      LOGIN_ADDRESS_LIMIT: "10000000",
      WRITE_LIMIT: "10000000",
      PASSWORD_HASHES_PER_ADDRESS: "10000000",
    },
    stdin: "null",
    stdout: "null",
    stderr: "inherit",
  }).spawn();
  const base = `http://127.0.0.1:${port}`;

  const call: Call = async (method, path, { token, body } = {}) => {
    const headers: Record<string, string> = {};
    if (token) headers.Authorization = `Bearer ${token}`;
    if (body !== undefined) headers["Content-Type"] = "application/json";
    const response = await fetch(base + path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: response.status, text: await response.text() };
  };

  const stop = async () => {
    try {
      child.kill("SIGTERM");
    } catch { /* already gone */ }
    await child.status;
    await database.close();
  };

  if (!(await answersHealthz(base, child))) {
    await stop();
    throw new Error("the server process did not become healthy (its stderr is above)");
  }

  const passwordHash = await hashPassword("bench-password", defaults.BCRYPT_COST);
  const user = async (name: string, isAdmin = false) => {
    const email = `${name}@bench.test`;
    const created = await createUser({ sql: database.sql, clock: systemClock }, {
      username: name,
      email,
      passwordHash,
      isAdmin,
    });
    const login = await call("POST", api("/users/login/"), { body: { email, password: "bench-password" } });
    if (login.status !== 200) throw new Error(`login of ${name} failed: ${login.status} ${login.text}`);
    return { ...created, password: "bench-password", access: JSON.parse(login.text).access as string };
  };

  return { sql: database.sql, call, user, stop };
}
