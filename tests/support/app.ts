import { createApp } from "../../src/app.ts";
import { type Config, loadConfig } from "../../src/config.ts";
import { type Cache, MemoryCache, UpstashCache } from "../../src/platform/cache.ts";
import { openDatabase, type Sql } from "../../src/platform/db.ts";
import { migrate } from "../../src/platform/migrate.ts";
import { storeCapacityLimits } from "../../src/reservations/capacity.ts";
import { silentLogger } from "../../src/platform/logger.ts";
import { hashPassword } from "../../src/auth/passwords.ts";
import { createUser } from "../../src/users/users.service.ts";
import { freshDatabase, freshPooledDatabase, startTestServers } from "../../harness/servers.ts";
import { api } from "../../harness/paths.ts";

/** `pooled`: postgres+redis with PostgreSQL behind PgBouncer in transaction mode (DB_POOLER=transaction). */
export type Backend = "postgres+redis" | "pooled" | "embedded";

/** A clock the test moves by hand. */
export class TestClock {
  constructor(public now = new Date("2027-04-01T00:00:00Z")) {}
  read = () => new Date(this.now);
  set(iso: string) {
    this.now = new Date(iso);
  }
  advance(seconds: number) {
    this.now = new Date(this.now.getTime() + seconds * 1000);
  }
  /** Runs `body` with the clock at `iso`, then puts it back. */
  async at(iso: string, body: () => Promise<void>) {
    const before = this.now;
    this.set(iso);
    try {
      await body();
    } finally {
      this.now = before;
    }
  }
  /** Runs `body` with the clock `seconds` later, then puts it back. */
  later(seconds: number, body: () => Promise<void>) {
    return this.at(new Date(this.now.getTime() + seconds * 1000).toISOString(), body);
  }
}

/** Host names as the test decides: no name a test uses ever goes to DNS. Unknown names do not resolve. */
export class TestResolver {
  readonly names = new Map<string, string[]>([["localhost", ["127.0.0.1", "::1"]]]);
  resolve = (hostname: string): Promise<string[]> => {
    const found = this.names.get(hostname);
    if (found) return Promise.resolve(found);
    return Promise.reject(Object.assign(new Error(`${hostname} is not a test name`), { code: "ENOTFOUND" }));
  };
}

// deno-lint-ignore no-explicit-any -- a JSON reply; each test asserts the fields it cares about
export type Reply = { status: number; body: any; headers: Headers };

export type TestContext = Awaited<ReturnType<typeof createTestContext>>;

const testSecret = "test-secret-that-is-long-enough-for-hs256";

/**
 * The real app over a real database: a fresh PostgreSQL database and the Redis-backed Upstash cache,
 * or the embedded default (PGlite + in-memory cache). `close()` releases everything.
 */
export async function createTestContext(
  { backend = "postgres+redis", env = {} }: { backend?: Backend; env?: Record<string, string> } = {},
) {
  const clock = new TestClock();
  let dataDir: string | undefined;
  let cache: Cache;
  let databaseUrl: string | undefined;
  if (backend === "embedded") {
    dataDir = await Deno.makeTempDir({ prefix: "exam-slots-pglite-" });
    cache = new MemoryCache(() => clock.now.getTime());
  } else {
    const servers = await startTestServers();
    databaseUrl = backend === "pooled" ? await freshPooledDatabase() : await freshDatabase();
    cache = new UpstashCache(servers.upstashUrl, servers.upstashToken);
  }
  const config: Config = loadConfig({
    APP_ENV: "test",
    JWT_SECRET: testSecret,
    BCRYPT_COST: "4",
    DATA_DIR: dataDir,
    DATABASE_URL: databaseUrl,
    DB_POOL_MAX: "20",
    // Specs that book hundreds of requests for one customer; the caps' own specs set their own.
    MAX_PENDING_PER_USER: "100000",
    WRITE_LIMIT: "100000",
    DB_POOLER: backend === "pooled" ? "transaction" : undefined,
    ...env,
  });
  const database = await openDatabase(config);
  await migrate(database.sql);
  await storeCapacityLimits(database.sql, config);
  const resolver = new TestResolver();
  const deps = {
    config,
    sql: database.sql,
    cache,
    clock: clock.read,
    logger: silentLogger,
    resolveHost: resolver.resolve,
  };
  const app = createApp(deps);

  async function request(
    method: string,
    path: string,
    { token, body, headers = {} }: { token?: string; body?: unknown; headers?: Record<string, string> } = {},
  ): Promise<Reply> {
    const init: RequestInit = { method, headers: { ...headers } };
    const h = init.headers as Record<string, string>;
    if (token) h.Authorization = `Bearer ${token}`;
    if (body !== undefined) {
      h["Content-Type"] ??= "application/json";
      init.body = typeof body === "string" ? body : JSON.stringify(body);
    }
    const response = await app.request(`http://api.test${path}`, init);
    const text = await response.text();
    let parsed: unknown = text;
    try {
      parsed = text ? JSON.parse(text) : null;
    } catch { /* not JSON: keep the text */ }
    return { status: response.status, body: parsed, headers: response.headers };
  }

  let serial = 0;
  /** Registers a customer through the API and logs them in. */
  async function customer(name = `customer${++serial}`) {
    const email = `${name}@example.test`;
    const password = `${name}-password`;
    const registered = await request("POST", api("/users/"), {
      body: { username: name, email, password, password2: password },
    });
    if (registered.status !== 201) throw new Error(`register failed: ${JSON.stringify(registered.body)}`);
    const tokens = await login(email, password);
    return { ...registered.body, email, password, access: tokens.access as string, refresh: tokens.refresh as string };
  }

  /** An admin created directly in the database (as ADMIN_EMAIL would), logged in through the API. */
  async function admin(name = `admin${++serial}`) {
    const email = `${name}@example.test`;
    const password = `${name}-password`;
    const user = await createUser({ sql: database.sql, clock: clock.read }, {
      username: name,
      email,
      passwordHash: await hashPassword(password, config.BCRYPT_COST),
      isAdmin: true,
    });
    const tokens = await login(email, password);
    return { ...user, email, password, access: tokens.access as string, refresh: tokens.refresh as string };
  }

  async function login(email: string, password: string) {
    const reply = await request("POST", api("/users/login/"), { body: { email, password } });
    if (reply.status !== 200) throw new Error(`login failed: ${JSON.stringify(reply.body)}`);
    return reply.body;
  }

  return {
    app,
    deps,
    resolver,
    sql: database.sql as Sql,
    cache,
    config,
    clock,
    request,
    customer,
    admin,
    async close() {
      await database.close();
      if (dataDir) await Deno.remove(dataDir, { recursive: true });
    },
  };
}

/** Runs `body` with a fresh context and always closes it. */
export async function withContext(
  options: Parameters<typeof createTestContext>[0],
  body: (t: TestContext) => Promise<void>,
) {
  const t = await createTestContext(options);
  try {
    await body(t);
  } finally {
    await t.close();
  }
}

export const backends: Backend[] = ["postgres+redis", "embedded"];
/** The backends, and PostgreSQL behind the pooler too: for the specs a transaction pooler could break. */
export const backendsAndPooler: Backend[] = ["postgres+redis", "pooled", "embedded"];

/** Registers one test per backend whose steps share one context, so every behaviour is checked on each. */
export function describeOnEveryBackend(
  area: string,
  steps: (step: (name: string, fn: () => Promise<void>) => Promise<boolean>, t: TestContext) => Promise<void>,
  on: Backend[] = backends,
) {
  for (const backend of on) {
    Deno.test(`${area} (${backend})`, async (test) => {
      await withContext({ backend }, (t) => steps((name, fn) => test.step(name, fn), t));
    });
  }
}
