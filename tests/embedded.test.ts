import { assert, assertEquals, assertMatch } from "./support/assert.ts";
import { call, json, runTask, runToExit, startServer, stopServer } from "../harness/server-process.ts";
import { api } from "../harness/paths.ts";
import { serverArgs } from "../src/tasks/start.ts";

const dayMs = 24 * 3600_000;
const bearer = (token: string) => ({ headers: { Authorization: `Bearer ${token}` } });

/** A two-hour window at 10:00 UTC, `days` days from now: always outside the 3-day lead time. */
function windowIn(days: number) {
  const start = new Date(Math.floor((Date.now() + days * dayMs) / dayMs) * dayMs + 10 * 3600_000);
  return { start_at: start.toISOString(), end_at: new Date(start.getTime() + 2 * 3600_000).toISOString() };
}

Deno.test("with no DATABASE_URL the server runs on PGlite in DATA_DIR, finds everything again after a restart, and `deno task create-admin` adds an admin there", async () => {
  const dataDir = await Deno.makeTempDir({ prefix: "exam-slots-embedded-" });
  const env = {
    APP_ENV: "development",
    DATA_DIR: dataDir,
    JWT_SECRET: "embedded-test-secret-long-enough-for-hs256",
    ADMIN_EMAIL: "admin@example.test",
    ADMIN_PASSWORD: "admin-password-1",
  };
  const customer = {
    username: "kept",
    email: "kept@example.test",
    password: "kept-password",
    password2: "kept-password",
  };
  try {
    const task = await runTask(["create-admin", "--email", "ops@example.test", "--password", "ops-password-1"], env);
    assertEquals(task.code, 0, task.output);
    const first = await startServer(env);
    let reservationId: number;
    try {
      assertEquals((await call(first, "/healthz")).body, { status: "ok", db: "ok", cache: "ok" });
      assertEquals((await call(first, "/docs")).status, 200);
      assertEquals((await call(first, api("/users/"), json(customer))).status, 201);
      const login = await call(first, api("/users/login/"), json(customer));
      const booked = await call(first, api("/reservations/"), {
        ...json({ ...windowIn(10), headcount: 1200 }),
        headers: { "Content-Type": "application/json", Authorization: `Bearer ${login.body.access}` },
      });
      assertEquals(booked.status, 201);
      reservationId = booked.body.id;
      const admin = await call(
        first,
        api("/users/login/"),
        json({ email: env.ADMIN_EMAIL, password: env.ADMIN_PASSWORD }),
      );
      const confirmed = await call(first, api(`/reservations/${reservationId}/confirm/`), {
        method: "POST",
        ...bearer(admin.body.access),
      });
      assertEquals(confirmed.body.status, "confirmed");
    } finally {
      await stopServer(first);
    }

    const second = await startServer(env);
    try {
      const login = await call(second, api("/users/login/"), json(customer));
      assertEquals(login.status, 200);
      const mine = await call(second, api("/reservations/"), bearer(login.body.access));
      assertEquals(mine.body.results.map((r: { id: number; status: string }) => [r.id, r.status]), [
        [reservationId, "confirmed"],
      ]);
      const admins = await call(
        second,
        api("/users/login/"),
        json({ email: env.ADMIN_EMAIL, password: env.ADMIN_PASSWORD }),
      );
      const users = await call(second, api("/users/"), bearer(admins.body.access));
      assertEquals(users.body.count, 3, "ADMIN_EMAIL does not create a second admin on restart");
      const ops = await call(
        second,
        api("/users/login/"),
        json({ email: "ops@example.test", password: "ops-password-1" }),
      );
      assertEquals((await call(second, api("/users/"), bearer(ops.body.access))).status, 200);
      const day = windowIn(10).start_at.slice(0, 10);
      const slots = await call(second, api(`/availability/?date=${day}`), bearer(login.body.access));
      assert(slots.body.slots.some((slot: { remaining: number }) => slot.remaining === 50_000 - 1200));
    } finally {
      await stopServer(second);
    }
  } finally {
    await Deno.remove(dataDir, { recursive: true });
  }
});

/** The flags `deno task start` runs the server with for `dataDir` (src/tasks/start.ts): its lockfile and permissions. */
const startTaskPermissions = (dataDir: string) => serverArgs(dataDir).filter((arg) => arg.startsWith("--"));

/** The TCP ports process `pid` listens on, from /proc. */
async function listeningPorts(pid: number): Promise<number[]> {
  const inodes = new Set<string>();
  for await (const entry of Deno.readDir(`/proc/${pid}/fd`)) {
    const target = await Deno.readLink(`/proc/${pid}/fd/${entry.name}`).catch(() => "");
    const inode = /^socket:\[(\d+)\]$/.exec(target)?.[1];
    if (inode) inodes.add(inode);
  }
  const ports = [];
  for (const table of ["tcp", "tcp6"]) {
    for (const line of (await Deno.readTextFile(`/proc/net/${table}`)).split("\n").slice(1)) {
      const fields = line.trim().split(/\s+/);
      // local_address is ADDRESS:PORT in hex; st 0A is LISTEN; the inode is the tenth field.
      if (fields[3] === "0A" && inodes.has(fields[9])) ports.push(parseInt(fields[1].split(":")[1], 16));
    }
  }
  return ports.sort();
}

/** Every file under `dir` with its size and modification time. */
async function snapshot(dir: string, into: string[] = []): Promise<string[]> {
  for await (const entry of Deno.readDir(dir)) {
    const path = `${dir}/${entry.name}`;
    if (entry.isDirectory) await snapshot(path, into);
    else {
      const { size, mtime } = await Deno.lstat(path);
      into.push(`${path} ${size} ${mtime?.getTime()}`);
    }
  }
  return into.sort();
}

const linesOf = (output: string) => output.split("\n").filter(Boolean);

Deno.test("embedded – one process at a time opens a DATA_DIR, over a socket only its OS user can reach; the others refuse in one line and touch nothing", async (t) => {
  const dataDir = await Deno.makeTempDir({ prefix: "exam-slots-one-writer-" });
  const env = { DATA_DIR: dataDir, JWT_SECRET: "embedded-test-secret-long-enough-for-hs256" };
  const permissions = startTaskPermissions(dataDir);
  const customer = { username: "kept", email: "kept@example.test", password: "kept-password" };
  let holder = await startServer(env, permissions);
  try {
    const registered = await call(holder, api("/users/"), json({ ...customer, password2: customer.password }));
    assertEquals(registered.status, 201);
    const inUse = new RegExp(`^DATA_DIR ${dataDir} is in use by process ${holder.child.pid} .*stop that one first$`);

    await t.step(
      "the database is served on a unix socket in DATA_DIR/socket (mode 0700), and on no TCP port",
      async () => {
        const socketDir = await Deno.stat(`${dataDir}/socket`);
        assertEquals([socketDir.mode! & 0o777, socketDir.uid], [0o700, Deno.uid()]);
        assert((await Deno.lstat(`${dataDir}/socket/.s.PGSQL.5432`)).isSocket);
        assertEquals(await listeningPorts(holder.child.pid), [Number(new URL(holder.url).port)]);
      },
    );

    await t.step(
      "a second server, `deno task migrate` and `deno task create-admin` refuse in one line naming the folder and the holder's pid, and change no file",
      async () => {
        const before = await snapshot(dataDir);
        const second = await runToExit(env, permissions);
        assertEquals(second.code, 1, second.lines.join("\n"));
        assertEquals(second.lines.length, 1, second.lines.join("\n"));
        assertMatch(second.lines[0], inUse);
        for (
          const task of [["migrate"], ["create-admin", "--email", "late@example.test", "--password", "late-password"]]
        ) {
          const { code, output } = await runTask(task, env);
          assertEquals(code, 1, output);
          assertEquals(linesOf(output).length, 1, output);
          assertMatch(linesOf(output)[0], inUse);
        }
        assertEquals(await snapshot(dataDir), before);
      },
    );

    await t.step("the running server serves its data on, and the refused admin does not exist", async () => {
      assertEquals((await call(holder, api("/users/login/"), json(customer))).status, 200);
      const late = await call(
        holder,
        api("/users/login/"),
        json({ email: "late@example.test", password: "late-password" }),
      );
      assertEquals(late.status, 401);
    });

    await t.step(
      "a holder killed with SIGKILL leaves no lock behind: the next server opens the folder at once",
      async () => {
        holder.child.kill("SIGKILL");
        await holder.exited;
        holder = await startServer(env, permissions);
        assertEquals((await call(holder, api("/users/login/"), json(customer))).status, 200);
      },
    );
  } finally {
    await stopServer(holder);
    await Deno.remove(dataDir, { recursive: true });
  }
});
