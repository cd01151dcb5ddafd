// What infra/compose-smoke.sh asks of the running stack, through nginx on 127.0.0.1, as a client would:
//   deno run --allow-net=127.0.0.1 --allow-read --allow-write journey.ts book   <http-url> <state.json>
//   deno run --allow-net=127.0.0.1 --allow-read journey.ts verify <http-url> <state.json>
//   deno run --allow-net=127.0.0.1 --allow-read journey.ts tls    <http-url> <https-url> <ca.pem> <state.json>
//   deno run --allow-net=127.0.0.1 --allow-env journey.ts admin  <http-url> <email>   (password: ADMIN_PASSWORD)
// `book` registers a customer, logs in, books, has the admin (ADMIN_EMAIL) confirm and reads the availability, and
// keeps what it made in state.json; `verify` (after the containers were recreated) finds all of it again; `tls`
// checks the TLS overlay: https answers, plain http redirects to it, and /healthz still answers on plain http;
// `admin` finds that an account made by `deno task create-admin` in the api container is an admin.
// Each check prints one line; the first that fails throws, and the process exits non-zero.

type Reply = { status: number; headers: Headers; body: Record<string, unknown> & { slots?: Slot[] } };
type Slot = { start_at: string; confirmed: number; remaining: number };
type State = {
  customer: { email: string; password: string };
  admin: { email: string; password: string };
  reservation: { id: number; start_at: string; end_at: string; headcount: number };
};

const [step, ...args] = Deno.args;
const env = (name: string) => Deno.env.get(name) ?? fail(`${name} is not set`);

function fail(message: string): never {
  throw new Error(message);
}

function check(condition: unknown, what: string, detail?: unknown): asserts condition {
  if (!condition) fail(`${what}: ${JSON.stringify(detail)}`);
  console.log(`ok - ${what}`);
}

async function call(base: string, path: string, init: RequestInit & { token?: string } = {}): Promise<Reply> {
  const headers = new Headers(init.headers);
  if (init.token) headers.set("Authorization", `Bearer ${init.token}`);
  if (init.body) headers.set("Content-Type", "application/json");
  const response = await fetch(`${base}${path}`, { ...init, headers, redirect: "manual" });
  const text = await response.text();
  let body = {};
  try {
    body = JSON.parse(text);
  } catch { /* not JSON: the status says enough */ }
  return { status: response.status, headers: response.headers, body };
}

const post = (body: unknown, token?: string) => ({ method: "POST", body: JSON.stringify(body), token });

async function login(base: string, user: { email: string; password: string }): Promise<string> {
  const reply = await call(base, "/api/v1/users/login/", post(user));
  check(reply.status === 200, `${user.email} logs in`, reply);
  return reply.body.access as string;
}

/** The availability of the reservation's UTC day, and the slots its window covers. */
async function coveredSlots(base: string, token: string, reservation: State["reservation"]) {
  const day = reservation.start_at.slice(0, 10);
  const reply = await call(base, `/api/v1/availability/?date=${day}`, { token });
  check(reply.status === 200 && Array.isArray(reply.body.slots), `availability of ${day} is read`, reply);
  const [from, to] = [Date.parse(reservation.start_at), Date.parse(reservation.end_at)];
  return reply.body.slots!.filter((slot) => Date.parse(slot.start_at) >= from && Date.parse(slot.start_at) < to);
}

async function book(base: string, statePath: string) {
  const name = `smoke${Date.now()}`;
  const customer = { email: `${name}@example.test`, password: "smoke-password-1" };
  const admin = { email: env("ADMIN_EMAIL"), password: env("ADMIN_PASSWORD") };

  const registered = await call(
    base,
    "/api/v1/users/",
    post({ username: name, ...customer, password2: customer.password }),
  );
  check(registered.status === 201, "a customer registers", registered);
  const token = await login(base, customer);

  // Ten days ahead (past the 3-day lead time), 09:00–11:00 UTC.
  const day = new Date(Math.floor(Date.now() / 86_400_000 + 10) * 86_400_000);
  const window = {
    start_at: new Date(day.getTime() + 9 * 3_600_000).toISOString(),
    end_at: new Date(day.getTime() + 11 * 3_600_000).toISOString(),
  };
  const booked = await call(base, "/api/v1/reservations/", post({ ...window, headcount: 7 }, token));
  check(booked.status === 201 && booked.body.status === "pending", "the customer books a pending window", booked);

  const adminToken = await login(base, admin);
  const confirmed = await call(base, `/api/v1/reservations/${booked.body.id}/confirm/`, post({}, adminToken));
  check(confirmed.status === 200 && confirmed.body.status === "confirmed", "the admin confirms it", confirmed);

  const reservation = { id: booked.body.id as number, ...window, headcount: 7 };
  const slots = await coveredSlots(base, token, reservation);
  check(slots.length === 2 && slots.every((slot) => slot.confirmed === 7), "its slots count 7 confirmed", slots);
  await Deno.writeTextFile(statePath, JSON.stringify({ customer, admin, reservation } satisfies State));
}

async function verify(base: string, statePath: string) {
  const { customer, admin, reservation }: State = JSON.parse(await Deno.readTextFile(statePath));
  const token = await login(base, customer);
  const found = await call(base, `/api/v1/reservations/${reservation.id}/`, { token });
  check(
    found.status === 200 && found.body.status === "confirmed" && found.body.headcount === reservation.headcount,
    "the confirmed reservation is still there",
    found,
  );
  const slots = await coveredSlots(base, token, reservation);
  check(slots.every((slot) => slot.confirmed === reservation.headcount), "and so are its slots' counts", slots);
  await login(base, admin);
}

async function tls(plain: string, secure: string, caPath: string, statePath: string) {
  const { customer }: State = JSON.parse(await Deno.readTextFile(statePath));
  const client = Deno.createHttpClient({ caCerts: [await Deno.readTextFile(caPath)] });
  try {
    const health = await fetch(`${secure}/healthz`, { client });
    check(health.status === 200, "https answers through nginx", await health.text());
    check(health.headers.get("strict-transport-security")?.startsWith("max-age="), "with HSTS");
    const loggedIn = await fetch(`${secure}/api/v1/users/login/`, {
      client,
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(customer),
    });
    check(loggedIn.status === 200, "a customer logs in over https", await loggedIn.text());
  } finally {
    client.close();
  }
  const redirected = await call(plain, "/api/v1/users/login/", post(customer));
  const location = redirected.headers.get("location");
  check(
    redirected.status === 308 && location === `https://127.0.0.1/api/v1/users/login/`,
    "plain http redirects to https, path kept",
    { status: redirected.status, location },
  );
  const health = await call(plain, "/healthz");
  check(health.status === 200 && health.body.status === "ok", "GET /healthz still answers on plain http", health);
}

async function admin(base: string, email: string) {
  const token = await login(base, { email, password: env("ADMIN_PASSWORD") });
  const me = await call(base, "/api/v1/users/me/", { token });
  check(me.status === 200 && me.body.is_admin === true, `${email} is an admin`, me);
}

if (step === "book") await book(args[0], args[1]);
else if (step === "verify") await verify(args[0], args[1]);
else if (step === "tls") await tls(args[0], args[1], args[2], args[3]);
else if (step === "admin") await admin(args[0], args[1]);
else fail(`unknown step ${step}: book, verify, tls or admin`);
