// client.ts against the real server process, and the types it gives: what `deno check` accepts is part of the spec.
import { type Client, createClient, type Problem, type Reservation, type User } from "../client.ts";
import type { components } from "../infra/openapi.d.ts";
import { assert, assertEquals, assertMatch } from "./support/assert.ts";
import { run } from "../harness/process.ts";
import { jwtSecret, startServer, stopServer } from "../harness/server-process.ts";
import { freshDatabase } from "../harness/servers.ts";
import { openApiTypes, typesPath } from "../src/tasks/openapi-types.ts";

/** True only when A and B are the same type (`never` and `any` included), so a check cannot pass by accident. */
type Same<A, B> = (<T>() => T extends A ? 1 : 2) extends (<T>() => T extends B ? 1 : 2) ? true : false;

const admin = { email: "admin@example.test", password: "admin-password-123" };
const customer = { username: "acme", email: "exams@acme.example", password: "correct horse battery" };

/** A UTC day a month ahead, clear of the booking lead time, and a two-hour window on it. */
const day = new Date(Date.now() + 30 * 86_400_000).toISOString().slice(0, 10);
const twoHours = { start_at: `${day}T09:00:00Z`, end_at: `${day}T11:00:00+00:00` };

async function logIn(url: string, credentials: { email: string; password: string }): Promise<Client> {
  const res = await createClient(url).api.v1.users.login.$post({ json: credentials });
  assert(res.status === 200, `log in: ${res.status}`);
  return createClient(url, { token: (await res.json()).access });
}

Deno.test("the typed client drives the real server from registration to deletion", async (t) => {
  const server = await startServer({
    JWT_SECRET: jwtSecret,
    DATABASE_URL: await freshDatabase(),
    ADMIN_EMAIL: admin.email,
    ADMIN_PASSWORD: admin.password,
  });
  try {
    let me: User;
    let api: Client["api"]["v1"];
    let reservation: Reservation;

    await t.step("a customer registers, logs in and reads themself", async () => {
      const registered = await createClient(server.url).api.v1.users.$post({
        json: { ...customer, password2: customer.password },
      });
      assert(registered.status === 201, `register: ${registered.status}`);
      const user = await registered.json();
      assertEquals(user.is_admin, false);
      api = (await logIn(server.url, customer)).api.v1;
      const res = await api.users.me.$get();
      assert(res.status === 200, `me: ${res.status}`);
      me = await res.json();
      assertEquals(me, user);
    });

    await t.step("without a token, me is a 401 problem, typed as one", async () => {
      const res = await createClient(server.url).api.v1.users.me.$get();
      assert(res.status === 401, `me without a token: ${res.status}`);
      const problem = await res.json();
      const typed: Same<typeof problem, Problem> = true;
      assert(typed);
      assertEquals(problem.code, "UNAUTHENTICATED");
    });

    await t.step("what the compiler refuses, the server refuses too", async () => {
      // @ts-expect-error -- a headcount is a number
      const badBody = await api.reservations.$post({ json: { ...twoHours, headcount: "many" } });
      assertEquals(badBody.status, 400);
      // @ts-expect-error -- a reservation's path needs its id
      const noId = await api.reservations[":id"].$get({});
      assertEquals(noId.status, 400);
      // @ts-expect-error -- no such path
      const noPath = await api.bookings.$get();
      assertEquals(noPath.status, 404);
    });

    await t.step("availability of a day answers one free slot per hour", async () => {
      const res = await api.availability.$get({ query: { date: day } });
      assert(res.status === 200, `availability: ${res.status}`);
      const { slots } = await res.json();
      assertEquals(slots.length, 24);
      assert(slots.every((slot) => slot.confirmed === 0 && slot.remaining === slot.capacity));
    });

    await t.step("a booking is created pending, read back and changed", async () => {
      const created = await api.reservations.$post({ json: { ...twoHours, headcount: 1200 } });
      assert(created.status === 201, `book: ${created.status}`);
      reservation = await created.json();
      assertEquals([reservation.status, reservation.user_id], ["pending", me.id]);
      const param = { id: String(reservation.id) };
      const read = await api.reservations[":id"].$get({ param });
      assert(read.status === 200, `get: ${read.status}`);
      assertEquals(await read.json(), reservation);
      const changed = await api.reservations[":id"].$patch({ param, json: { headcount: 1500 } });
      assert(changed.status === 200, `patch: ${changed.status}`);
      reservation = await changed.json();
      assertEquals(reservation.headcount, 1500);
    });

    await t.step("an admin confirms it, and the customer's list shows it confirmed", async () => {
      const adminApi = (await logIn(server.url, admin)).api.v1;
      const confirmed = await adminApi.reservations[":id"].confirm.$post({ param: { id: String(reservation.id) } });
      assert(confirmed.status === 200, `confirm: ${confirmed.status}`);
      assertEquals((await confirmed.json()).status, "confirmed");
      const list = await api.reservations.$get({ query: { status: "confirmed" } });
      assert(list.status === 200, `list: ${list.status}`);
      const page = await list.json();
      assertEquals([page.count, page.results[0].id], [1, reservation.id]);
    });

    await t.step("the owner changing a confirmed booking gets a 409 problem, typed as one", async () => {
      const res = await api.reservations[":id"].$patch({
        param: { id: String(reservation.id) },
        json: { headcount: 1 },
      });
      assert(res.status === 409, `patch confirmed: ${res.status}`);
      const problem = await res.json();
      const typed: Same<typeof problem, Problem> = true;
      assert(typed);
      assertEquals([problem.status, problem.code], [409, "RESERVATION_NOT_PENDING"]);
      assertEquals(res.headers.get("content-type"), "application/problem+json");
    });

    await t.step("the admin deletes it; then the customer's read is a 404 problem", async () => {
      const adminApi = (await logIn(server.url, admin)).api.v1;
      const param = { id: String(reservation.id) };
      const deleted = await adminApi.reservations[":id"].$delete({ param });
      assertEquals(deleted.status, 204);
      const res = await api.reservations[":id"].$get({ param });
      assert(res.status === 404, `get deleted: ${res.status}`);
      assertEquals((await res.json()).code, "NOT_FOUND");
    });
  } finally {
    await stopServer(server);
  }
});

Deno.test("client.ts carries no server code at run time: the app is imported for its types only", async () => {
  const client = new URL("../client.ts", import.meta.url).href;
  const src = new URL("../src/", import.meta.url).href;
  type Module = { specifier: string; dependencies?: { code?: { specifier: string } }[] };
  const graph = JSON.parse(await run(Deno.execPath(), ["info", "--json", new URL(client).pathname]));
  const modules = new Map<string, Module>(graph.modules.map((m: Module) => [m.specifier, m]));
  const loaded = new Set<string>();
  const visit = (specifier: string) => {
    if (loaded.has(specifier)) return;
    loaded.add(specifier);
    for (const dependency of modules.get(specifier)?.dependencies ?? []) {
      if (dependency.code) visit(dependency.code.specifier);
    }
  };
  visit(client);
  assert([...loaded].some((specifier) => /^npm:\/hono@[^/]+\/client$/.test(specifier)), "hono/client is loaded");
  assertEquals([...loaded].filter((specifier) => specifier.startsWith(src)), []);
});

Deno.test("the committed infra/openapi.d.ts is what `deno task openapi-types` writes", async () => {
  const committed = await Deno.readTextFile(typesPath);
  assert(committed === await openApiTypes(), "infra/openapi.d.ts is stale: deno task openapi-types");
});

Deno.test("the generated types carry no examples, so a date in one cannot change them from day to day", async () => {
  assert(!(await Deno.readTextFile(typesPath)).includes("@example"));
});

Deno.test("the generated types and the typed client agree on users, reservations and problems", () => {
  type Schemas = components["schemas"];
  const agree: [
    Same<Schemas["User"], User>,
    Same<Schemas["Reservation"], Reservation>,
    Same<Schemas["Problem"], Problem>,
  ] = [true, true, true];
  assertEquals(agree, [true, true, true]);
});

const root = new URL("..", import.meta.url).pathname.replace(/\/$/, "");

/** The fenced `lang` block of docs/getting-started.md that contains `marker`. */
async function documented(lang: string, marker: string): Promise<string> {
  const guide = await Deno.readTextFile(new URL("../docs/getting-started.md", import.meta.url));
  const blocks = [...guide.matchAll(new RegExp("^```" + lang + "\\n([\\s\\S]*?)^```$", "gm"))].map((m) => m[1]);
  const block = blocks.find((text) => text.includes(marker));
  assert(block, `docs/getting-started.md has no ${lang} block with ${marker}`);
  return block;
}

Deno.test("the typed client works from a project outside the repository: the guide's example type-checks and books on a real server, twice", async () => {
  const project = await Deno.makeTempDir({ prefix: "exam-slots-consumer-" });
  const server = await startServer({ JWT_SECRET: jwtSecret, DATABASE_URL: await freshDatabase() });
  try {
    assert(!project.startsWith(root), "the project is outside the repository");
    const config = JSON.parse(await documented("json", '"links"'));
    assertEquals(config.links, ["../exam-slots"], "the guide's path to the clone, replaced by the real one here");
    await Deno.writeTextFile(`${project}/deno.json`, JSON.stringify({ ...config, links: [root] }));
    // The project pins what this repository's deno.lock pins, in the form Deno gives a linked package's dependencies:
    // the check gets the versions the server is tested with, needs no registry, and cannot drift with a new release.
    const lock = JSON.parse(await Deno.readTextFile(`${root}/deno.lock`));
    const { name, version } = JSON.parse(await Deno.readTextFile(`${root}/deno.json`));
    lock.workspace = {
      dependencies: [`jsr:${name}@${version.split(".")[0]}`],
      links: { [`jsr:${name}@${version}`]: { dependencies: lock.workspace.dependencies } },
    };
    await Deno.writeTextFile(`${project}/deno.lock`, JSON.stringify(lock));
    await Deno.writeTextFile(`${project}/main.ts`, await documented("ts", "@exam-slots/api/client"));

    const deno = (args: string[]) =>
      new Deno.Command(Deno.execPath(), {
        args,
        cwd: project,
        clearEnv: true,
        env: { PATH: Deno.env.get("PATH") ?? "", HOME: Deno.env.get("HOME") ?? "", API_URL: server.url },
        stdin: "null",
      }).output();
    const decoded = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
    const checked = await deno(["check", "main.ts"]);
    assertEquals(checked.code, 0, decoded(checked.stderr));
    for (const attempt of ["first", "second"]) {
      const ran = await deno(["run", "--allow-net", "--allow-env=API_URL", "main.ts"]);
      assertEquals(ran.code, 0, `${attempt} run: ${decoded(ran.stderr)}`);
      assertMatch(decoded(ran.stdout), /^reservation \d+: pending, 1200 examinees\n$/);
    }
  } finally {
    await stopServer(server);
    await Deno.remove(project, { recursive: true });
  }
});

Deno.test("the package exports the typed client, and only it", async () => {
  const config = JSON.parse(await Deno.readTextFile(`${root}/deno.json`));
  assertEquals(config.exports, { "./client": "./client.ts" });
  assertMatch(config.name, /^@[\w-]+\/[\w-]+$/);
});
