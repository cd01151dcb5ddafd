// The round-trip budget of issue 10: the server process with PostgreSQL a delay proxy away, and per endpoint the
// most sequential database round trips one request may wait for. Shared by tests/round-trips.test.ts and the
// bench's edge scenario.
import { DelayProxy } from "./delay-proxy.ts";
import { call, jwtSecret, type ServerProcess, startServer, stopServer } from "./server-process.ts";
import { api } from "./paths.ts";

type Reply = Awaited<ReturnType<typeof call>>;

export type BudgetedEndpoint = {
  name: string;
  /** The request measured, and as whom. */
  request: string;
  /** The most sequential database round trips it may wait for. */
  budget: number;
  status: number;
  /** Sets up `count` requests of this kind, unmeasured; `send(i)` makes the i-th. */
  prepare(count: number): Promise<(i: number) => Promise<Reply>>;
};

/** Requests of one endpoint, ready to be measured one at a time: each records the round trips it waited for. */
export type Probe = { send(i: number): Promise<string>; roundTrips: number[] };

export type Edge = {
  proxy: DelayProxy;
  server: ServerProcess;
  /** The database's round-trip time, 2 × the proxy's delay. */
  rttMs: number;
  endpoints: BudgetedEndpoint[];
  /** Warms the pool's prepared statements for `endpoint` (at no delay), then hands out `count` requests. */
  ready(endpoint: BudgetedEndpoint, count: number): Promise<Probe>;
  stop(): Promise<void>;
};

const hourMs = 3600_000;
const dayMs = 24 * hourMs;
const admin = { email: "edge-admin@example.com", password: "edge-admin-password" };
const customer = { username: "edge-customer", email: "edge-customer@example.com", password: "edge-customer-pw" };

/**
 * The production server on `databaseUrl` through a delay proxy, with the in-memory cache, a customer and an
 * admin signed in, and every connection of its pool open: a connection opened during a measurement would add
 * its handshake to it. `env` adds to the server's environment (DB_POOLER=transaction when `databaseUrl` is a pooler).
 */
export async function startEdge(
  databaseUrl: string,
  { delayMs = 10, pool = 4, env = {} }: { delayMs?: number; pool?: number; env?: Record<string, string> } = {},
): Promise<Edge> {
  const proxy = new DelayProxy(databaseUrl, { delayMs: 0 });
  let server: ServerProcess | undefined;
  try {
    server = await startServer({
      JWT_SECRET: jwtSecret,
      DATABASE_URL: proxy.url,
      DB_POOL_MAX: String(pool),
      ADMIN_EMAIL: admin.email,
      ADMIN_PASSWORD: admin.password,
      // The bench books hundreds of reservations for one customer; the contract's defaults are 50 pending and 120
      // writes a minute.
      MAX_PENDING_PER_USER: "100000",
      // The webhook worker's background queries are no request's round trips, but the proxy would count them.
      WEBHOOK_WORKER: "false",
      WRITE_LIMIT: "100000",
      ...env,
    });
    const tokens = await signIn(server);
    proxy.delayMs = delayMs;
    await fillPool(proxy, server, tokens.customer, pool);
    const warmups = 3 * pool;
    const edge: Edge = {
      proxy,
      server,
      rttMs: 2 * delayMs,
      endpoints: endpoints(server, tokens),
      async ready(endpoint, count) {
        proxy.delayMs = 0;
        const send = await endpoint.prepare(warmups + count);
        // A statement new to a connection costs postgres.js a describe round trip: every connection sees each.
        for (let i = 0; i < warmups; i++) expectStatus(endpoint.status, await send(i), `${endpoint.name} warm-up`);
        proxy.delayMs = delayMs;
        const accepted = proxy.acceptedConnections();
        const roundTrips: number[] = [];
        return {
          roundTrips,
          async send(i) {
            proxy.reset();
            const { status } = await send(warmups + i);
            roundTrips.push(proxy.roundTrips());
            if (proxy.acceptedConnections() !== accepted) {
              throw new Error(`${endpoint.name}: the server opened a database connection during the measurement`);
            }
            return String(status);
          },
        };
      },
      async stop() {
        await stopServer(server!);
        await proxy.stop();
      },
    };
    return edge;
  } catch (error) {
    if (server) await stopServer(server);
    await proxy.stop();
    throw error;
  }
}

type Tokens = { customer: string; admin: string };

async function signIn(server: ServerProcess): Promise<Tokens> {
  const registered = await call(server, api("/users/"), post({ ...customer, password2: customer.password }));
  expectStatus(201, registered, "registering the customer");
  const login = async (email: string, password: string) => {
    const reply = await call(server, api("/users/login/"), post({ email, password }));
    expectStatus(200, reply, `logging in ${email}`);
    return reply.body.access as string;
  };
  return { customer: await login(customer.email, customer.password), admin: await login(admin.email, admin.password) };
}

/** Concurrent requests, each holding a connection for a round trip, until the pool has opened all of them. */
async function fillPool(proxy: DelayProxy, server: ServerProcess, token: string, pool: number) {
  for (let attempt = 0; proxy.openConnections() < pool; attempt++) {
    if (attempt === 5) throw new Error(`the server opened ${proxy.openConnections()} of ${pool} database connections`);
    const replies = await Promise.all(
      Array.from({ length: 2 * pool }, () => call(server, api("/users/me/"), authorized(token))),
    );
    for (const reply of replies) expectStatus(200, reply, "filling the pool");
  }
}

function endpoints(server: ServerProcess, tokens: Tokens): BudgetedEndpoint[] {
  const send = (method: string, path: string, token: string, body?: unknown, headers: ExtraHeaders = {}) =>
    call(server, api(path), {
      method,
      headers: { ...authorized(token).headers, ...headers },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  const day = new Date(Math.ceil(Date.now() / dayMs) * dayMs + 30 * dayMs);
  const window = { start_at: day.toISOString(), end_at: new Date(day.getTime() + 2 * hourMs).toISOString() };
  const book = async () => {
    const reply = await send("POST", "/reservations/", tokens.customer, { ...window, headcount: 1 });
    expectStatus(201, reply, "booking");
    return reply.body.id as number;
  };
  const bookConfirmed = async () => {
    const id = await book();
    expectStatus(200, await send("POST", `/reservations/${id}/confirm/`, tokens.admin), "confirming");
    return id;
  };
  const many = async (count: number, make: () => Promise<number>) => {
    const ids: number[] = [];
    while (ids.length < count) ids.push(await make());
    return ids;
  };
  // The writes measured with and without an Idempotency-Key (`key` gives each request's headers).
  const create = (key: () => ExtraHeaders): BudgetedEndpoint => ({
    name: "create",
    request: "POST /reservations/ (a customer)",
    budget: 2,
    status: 201,
    prepare: nothingToSetUp(() => send("POST", "/reservations/", tokens.customer, { ...window, headcount: 1 }, key())),
  });
  const patch = (key: () => ExtraHeaders): BudgetedEndpoint => ({
    name: "patch",
    request: "PATCH /reservations/{id}/ (pending, its customer)",
    budget: 4,
    status: 200,
    async prepare() {
      const id = await book();
      return (i) => send("PATCH", `/reservations/${id}/`, tokens.customer, { headcount: 2 + i % 2 }, key());
    },
  });
  // A change of one reservation decides an admin-only route in its own read (`adminOnlyChange`): no round trip more.
  const confirm = (key: () => ExtraHeaders): BudgetedEndpoint => ({
    name: "confirm",
    request: "POST /reservations/{id}/confirm/ (an admin)",
    budget: 4,
    status: 200,
    async prepare(count) {
      const ids = await many(count, book);
      return (i) => send("POST", `/reservations/${ids[i]}/confirm/`, tokens.admin, undefined, key());
    },
  });
  const fullDay = new Date(day.getTime() + dayMs);
  const fullWindow = {
    start_at: fullDay.toISOString(),
    end_at: new Date(fullDay.getTime() + 2 * hourMs).toISOString(),
  };
  const bookFull = async (headcount: number) => {
    const reply = await send("POST", "/reservations/", tokens.customer, { ...fullWindow, headcount });
    expectStatus(201, reply, "booking the full window");
    return reply.body.id as number;
  };
  return [
    {
      name: "confirm refused",
      request: "POST /reservations/{id}/confirm/ (its window full, an admin)",
      budget: 1,
      status: 409,
      async prepare(count) {
        const ids = await many(count, () => bookFull(1));
        const filling = await bookFull(50_000);
        expectStatus(200, await send("POST", `/reservations/${filling}/confirm/`, tokens.admin), "filling the window");
        return (i) => send("POST", `/reservations/${ids[i]}/confirm/`, tokens.admin);
      },
    },
    {
      name: "me",
      request: "GET /users/me/",
      budget: 1,
      status: 200,
      prepare: nothingToSetUp(() => send("GET", "/users/me/", tokens.customer)),
    },
    {
      name: "availability",
      request: "GET /availability/?date=…",
      budget: 1,
      status: 200,
      prepare: nothingToSetUp(() =>
        send("GET", `/availability/?date=${window.start_at.slice(0, 10)}`, tokens.customer)
      ),
    },
    {
      name: "get",
      request: "GET /reservations/{id}/ (its customer)",
      budget: 1,
      status: 200,
      async prepare() {
        const id = await book();
        return () => send("GET", `/reservations/${id}/`, tokens.customer);
      },
    },
    {
      name: "list",
      request: "GET /reservations/ (a customer)",
      budget: 1,
      status: 200,
      prepare: nothingToSetUp(() => send("GET", "/reservations/", tokens.customer)),
    },
    create(noKey),
    patch(noKey),
    {
      name: "patch confirmed",
      request: "PATCH /reservations/{id}/ (confirmed, an admin)",
      budget: 4,
      status: 200,
      async prepare() {
        const id = await bookConfirmed();
        return (i) => send("PATCH", `/reservations/${id}/`, tokens.admin, { headcount: 2 + i % 2 });
      },
    },
    confirm(noKey),
    {
      name: "delete",
      request: "DELETE /reservations/{id}/ (confirmed, an admin)",
      budget: 4,
      status: 204,
      async prepare(count) {
        const ids = await many(count, bookConfirmed);
        return (i) => send("DELETE", `/reservations/${ids[i]}/`, tokens.admin);
      },
    },
    ...[create, patch, confirm].map((endpoint) => withKey(endpoint(freshKey))),
    {
      // Like a confirmation (issue 22).
      name: "reject",
      request: "POST /reservations/{id}/reject/ (an admin)",
      budget: 4,
      status: 200,
      async prepare(count) {
        const ids = await many(count, book);
        return (i) => send("POST", `/reservations/${ids[i]}/reject/`, tokens.admin, { reason: "closed" });
      },
    },
    // Issue 22: one batch, whatever the number of ids (after the first sample, the ids are no longer pending: the
    // same statements run, refusing them).
    ...[1, 100].map((size): BudgetedEndpoint => ({
      name: `bulk confirm ×${size}`,
      request: `POST /reservations/confirm/ (${size} id${size === 1 ? "" : "s"}, an admin)`,
      budget: 5,
      status: 200,
      async prepare() {
        const ids = await many(size, book);
        return () => send("POST", "/reservations/confirm/", tokens.admin, { ids });
      },
    })),
    {
      // Issue 22: the first byte after one round trip. Every batch is a round trip of its own, so the export asks for
      // less than one: its header and first batch are the whole answer.
      name: "export",
      request: "GET /reservations/export/?status=rejected (a customer: its header and first batch)",
      budget: 1,
      status: 200,
      prepare: nothingToSetUp(() => send("GET", "/reservations/export/?status=rejected", tokens.customer)),
    },
  ];
}

type ExtraHeaders = Record<string, string>;
const noKey = (): ExtraHeaders => ({});
const freshKey = (): ExtraHeaders => ({ "Idempotency-Key": crypto.randomUUID() });

/** Issue 11: a write sent with an Idempotency-Key costs at most one round trip more than without. */
const withKey = (endpoint: BudgetedEndpoint): BudgetedEndpoint => ({
  ...endpoint,
  name: `${endpoint.name} keyed`,
  request: `${endpoint.request}, with an Idempotency-Key`,
  budget: endpoint.budget + 1,
});

/** For requests that need nothing set up: every one is the same. */
const nothingToSetUp = (send: () => Promise<Reply>) => () => Promise.resolve(send);

const authorized = (token: string) => ({
  headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" },
});

const post = (body: unknown) => ({
  method: "POST",
  headers: { "Content-Type": "application/json" },
  body: JSON.stringify(body),
});

function expectStatus(status: number, reply: Reply, what: string) {
  if (reply.status !== status) {
    throw new Error(`${what}: expected ${status}, got ${reply.status} ${JSON.stringify(reply.body)}`);
  }
}

/** One line of the budget table. */
export type BudgetRow = {
  endpoint: string;
  request: string;
  /** The median over the measured requests, and their range. */
  roundTrips: number;
  range: [number, number];
  budget: number;
  p50Ms: number;
  /** p50 over the round-trip time: a cross-check of the count from latency alone. */
  p50PerRtt: number;
};

export function budgetRow(endpoint: BudgetedEndpoint, roundTrips: number[], p50Ms: number, rttMs: number): BudgetRow {
  return {
    endpoint: endpoint.name,
    request: endpoint.request,
    roundTrips: median(roundTrips),
    range: [Math.min(...roundTrips), Math.max(...roundTrips)],
    budget: endpoint.budget,
    p50Ms: Math.round(p50Ms * 10) / 10,
    p50PerRtt: Math.round((p50Ms / rttMs) * 100) / 100,
  };
}

export const withinBudget = (row: BudgetRow) => row.roundTrips <= row.budget;

/** The rows as a Markdown table. */
export function formatBudget(rows: BudgetRow[], rttMs: number): string {
  return [
    `| endpoint | request | round trips | budget | | p50 ms (RTT ${rttMs} ms) | p50 / RTT |`,
    "|---|---|---:|---:|---|---:|---:|",
    ...rows.map((row) => {
      const [least, most] = row.range;
      const trips = least === most ? `${row.roundTrips}` : `${row.roundTrips} (${least}–${most})`;
      const verdict = withinBudget(row) ? "met" : "OVER";
      return `| ${row.endpoint} | ${row.request} | ${trips} | ${row.budget} | ${verdict} | ${row.p50Ms} | ${row.p50PerRtt} |`;
    }),
  ].join("\n");
}

/** The middle value (the lower of the two middle ones for an even count). */
export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor((sorted.length - 1) / 2)];
}
