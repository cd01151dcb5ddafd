import { apiBase } from "../../src/app.ts";

// The walk through the API that infra/postman_collection.json takes; tools/postman/collection.ts turns it into requests.

/** Who sends a request: nobody signed in, the customer of this run, or the admin. */
export type Caller = "anyone" | "customer" | "admin";

/** One request of the tour: a documented operation, as whom, with what, and what later steps keep from it. */
export type Step = {
  name: string;
  /** The method and path as /openapi.json lists them. */
  operation: string;
  as: Caller;
  status: number;
  path?: Record<string, string>;
  query?: Record<string, string>;
  body?: Record<string, unknown>;
  /** Pre-request script lines. */
  before?: string[];
  /** Test script lines, run after the contract checks. */
  after?: string[];
};

const at = (path: string) => `${apiBase}${path}`;
const keep = (variable: string, value: string) => `pm.collectionVariables.set("${variable}", ${value});`;
export const check = (name: string, expectation: string) => `pm.test(${JSON.stringify(name)}, () => ${expectation});`;

// Refresh tokens rotate, so every answer with a pair replaces the stored one.
const keepTokens = [keep("access", "pm.response.json().access"), keep("refresh", "pm.response.json().refresh")];
const firstBookedSlot =
  'const first = pm.response.json().slots.find((s) => Date.parse(s.start_at) === Date.parse(pm.variables.get("startAt")));';
const bookedHeadcount = 1200;
const changedHeadcount = 1500;

/** The order a person follows, every documented operation at least once, each answer a 2xx. */
export const tour: Step[] = [
  { name: "Is the service up?", operation: "GET /healthz", as: "anyone", status: 200 },
  {
    name: "Register a customer",
    operation: `POST ${at("/users")}`,
    as: "anyone",
    status: 201,
    // A new account on every run, so the collection runs again against the same server.
    before: [
      "const run = `${Date.now().toString(36)}${Math.floor(Math.random() * 1e4)}`;",
      keep("username", "`customer_${run}`"),
      keep("email", "`customer_${run}@example.test`"),
    ],
    body: { username: "{{username}}", email: "{{email}}", password: "{{password}}", password2: "{{password}}" },
    after: [keep("userId", "pm.response.json().id")],
  },
  {
    name: "Log in",
    operation: `POST ${at("/users/login")}`,
    as: "anyone",
    status: 200,
    body: { email: "{{email}}", password: "{{password}}" },
    after: keepTokens,
  },
  {
    name: "Trade the refresh token for a new pair",
    operation: `POST ${at("/users/login/refresh")}`,
    as: "anyone",
    status: 200,
    body: { refresh: "{{refresh}}" },
    after: keepTokens,
  },
  {
    name: "Who am I?",
    operation: `GET ${at("/users/me")}`,
    as: "customer",
    status: 200,
    after: [check("it is the new customer", 'pm.expect(pm.response.json().email).to.equal(pm.variables.get("email"))')],
  },
  {
    name: "My account by its id",
    operation: `GET ${at("/users/{id}")}`,
    as: "customer",
    status: 200,
    path: { id: "{{userId}}" },
  },
  {
    name: "Register a webhook for my reservations' events",
    operation: `POST ${at("/webhooks")}`,
    as: "customer",
    status: 201,
    before: [
      'if (!pm.variables.get("webhookUrl")) {',
      '  throw new Error("set webhookUrl to a receiver of yours (see docs/webhooks.md)");',
      "}",
    ],
    body: { url: "{{webhookUrl}}", events: ["reservation.created", "reservation.changed", "reservation.confirmed"] },
    after: [
      check("its secret is shown once", "pm.expect(pm.response.json().secret).to.match(/^whsec_/)"),
      keep("webhookId", "pm.response.json().id"),
    ],
  },
  {
    name: "My webhooks",
    operation: `GET ${at("/webhooks")}`,
    as: "customer",
    status: 200,
    after: [check("no secret is listed", 'pm.expect(pm.response.text()).to.not.include("whsec_")')],
  },
  {
    name: "What is left on the exam day, three weeks ahead",
    operation: `GET ${at("/availability")}`,
    as: "customer",
    status: 200,
    query: { date: "{{examDay}}" },
    // 09:00–11:00 UTC lies on slot boundaries for every SLOT_MINUTES that divides 60, far beyond the 3-day lead.
    before: [
      "const day = new Date(Date.now() + 21 * 24 * 3600 * 1000).toISOString().slice(0, 10);",
      keep("examDay", "day"),
      keep("startAt", "`${day}T09:00:00Z`"),
      keep("endAt", "`${day}T11:00:00Z`"),
    ],
    after: [
      firstBookedSlot,
      check("the day has a 09:00 slot", 'pm.expect(first).to.be.an("object")'),
      keep("remainingBefore", "first.remaining"),
    ],
  },
  {
    name: `Book 09:00–11:00 UTC for ${bookedHeadcount} examinees`,
    operation: `POST ${at("/reservations")}`,
    as: "customer",
    status: 201,
    body: { start_at: "{{startAt}}", end_at: "{{endAt}}", headcount: bookedHeadcount },
    after: [
      check("it waits for an admin", 'pm.expect(pm.response.json().status).to.equal("pending")'),
      keep("reservationId", "pm.response.json().id"),
    ],
  },
  {
    name: "Look at the booking",
    operation: `GET ${at("/reservations/{id}")}`,
    as: "customer",
    status: 200,
    path: { id: "{{reservationId}}" },
  },
  {
    name: `Change it to ${changedHeadcount} examinees`,
    operation: `PATCH ${at("/reservations/{id}")}`,
    as: "customer",
    status: 200,
    path: { id: "{{reservationId}}" },
    body: { headcount: changedHeadcount },
    after: [check("the headcount changed", `pm.expect(pm.response.json().headcount).to.equal(${changedHeadcount})`)],
  },
  {
    name: "Book another hour, 11:00–12:00 UTC, for 300",
    operation: `POST ${at("/reservations")}`,
    as: "customer",
    status: 201,
    body: { start_at: "{{endAt}}", end_at: "{{nextHourAt}}", headcount: 300 },
    before: [keep("nextHourAt", 'new Date(Date.parse(pm.variables.get("endAt")) + 3600 * 1000).toISOString()')],
    after: [keep("secondId", "pm.response.json().id")],
  },
  {
    name: "And one more, 11:00–12:00 UTC, for 200",
    operation: `POST ${at("/reservations")}`,
    as: "customer",
    status: 201,
    body: { start_at: "{{endAt}}", end_at: "{{nextHourAt}}", headcount: 200 },
    after: [keep("thirdId", "pm.response.json().id")],
  },
  {
    name: "Admin: log in",
    operation: `POST ${at("/users/login")}`,
    as: "anyone",
    status: 200,
    before: [
      'if (!pm.variables.get("adminEmail") || !pm.variables.get("adminPassword")) {',
      '  throw new Error("set adminEmail and adminPassword to the server\'s ADMIN_EMAIL and ADMIN_PASSWORD");',
      "}",
    ],
    body: { email: "{{adminEmail}}", password: "{{adminPassword}}" },
    after: [keep("adminAccess", "pm.response.json().access")],
  },
  {
    name: "Admin: confirm the booking",
    operation: `POST ${at("/reservations/{id}/confirm")}`,
    as: "admin",
    status: 200,
    path: { id: "{{reservationId}}" },
    after: [check("it is confirmed", 'pm.expect(pm.response.json().status).to.equal("confirmed")')],
  },
  {
    name: "Admin: the queue of pending requests, oldest first",
    operation: `GET ${at("/reservations")}`,
    as: "admin",
    status: 200,
    query: { status: "pending", ordering: "created_at", user_id: "{{userId}}" },
    after: [
      check(
        "the two later bookings, in the order they came",
        'pm.expect(pm.response.json().results.map((r) => r.id)).to.eql([Number(pm.variables.get("secondId")), Number(pm.variables.get("thirdId"))])',
      ),
    ],
  },
  {
    name: "Admin: reject one, with the reason its owner will read",
    operation: `POST ${at("/reservations/{id}/reject")}`,
    as: "admin",
    status: 200,
    path: { id: "{{secondId}}" },
    body: { reason: "The exam centre is closed at that hour" },
    after: [check("it is rejected", 'pm.expect(pm.response.json().status).to.equal("rejected")')],
  },
  {
    name: "Admin: confirm the rest of the queue in one request",
    operation: `POST ${at("/reservations/confirm")}`,
    as: "admin",
    status: 200,
    // Postman sends the id as a string; the API reads ids as numbers either way.
    body: { ids: ["{{thirdId}}"] },
    after: [check("it is confirmed", "pm.expect(pm.response.json().results[0].status).to.equal(200)")],
  },
  {
    name: "My bookings as a spreadsheet (CSV)",
    operation: `GET ${at("/reservations/export")}`,
    as: "customer",
    status: 200,
    query: { ordering: "start_at" },
    after: [
      check(
        "a header row and my three bookings",
        'pm.expect(pm.response.text().trim().split("\\r\\n")).to.have.lengthOf(4)',
      ),
    ],
  },
  {
    name: "Availability shows the confirmed examinees",
    operation: `GET ${at("/availability")}`,
    as: "customer",
    status: 200,
    query: { date: "{{examDay}}" },
    after: [
      firstBookedSlot,
      check(
        `${changedHeadcount} fewer places at 09:00`,
        `pm.expect(first.remaining).to.equal(Number(pm.variables.get("remainingBefore")) - ${changedHeadcount})`,
      ),
    ],
  },
  {
    name: "My confirmed bookings",
    operation: `GET ${at("/reservations")}`,
    as: "customer",
    status: 200,
    query: { status: "confirmed" },
    after: [
      check(
        "the booking is listed",
        'pm.expect(pm.response.json().results.map((r) => r.id)).to.include(Number(pm.variables.get("reservationId")))',
      ),
    ],
  },
  {
    name: "Admin: every user",
    operation: `GET ${at("/users")}`,
    as: "admin",
    status: 200,
    query: { page: "1", page_size: "100" },
  },
  {
    name: "Admin: delete the booking, releasing its places",
    operation: `DELETE ${at("/reservations/{id}")}`,
    as: "admin",
    status: 204,
    path: { id: "{{reservationId}}" },
  },
  {
    name: "Admin: every change of the booking, oldest first",
    operation: `GET ${at("/reservations/{id}/history")}`,
    as: "admin",
    status: 200,
    path: { id: "{{reservationId}}" },
    after: [
      check(
        "booked, changed, confirmed, deleted",
        'pm.expect(pm.response.json().results.map((e) => e.action)).to.eql(["created", "changed", "confirmed", "deleted"])',
      ),
    ],
  },
  {
    name: "Admin: the audit log of the booking, newest first",
    operation: `GET ${at("/audit")}`,
    as: "admin",
    status: 200,
    query: { reservation_id: "{{reservationId}}" },
    after: [check("four events", "pm.expect(pm.response.json().count).to.equal(4)")],
  },
  {
    name: "What my webhook was sent, newest first",
    operation: `GET ${at("/webhooks/{id}/deliveries")}`,
    as: "customer",
    status: 200,
    path: { id: "{{webhookId}}" },
  },
  {
    name: "Delete my webhook",
    operation: `DELETE ${at("/webhooks/{id}")}`,
    as: "customer",
    status: 204,
    path: { id: "{{webhookId}}" },
  },
  {
    name: "Log out",
    operation: `POST ${at("/users/logout")}`,
    as: "customer",
    status: 204,
    body: { refresh: "{{refresh}}" },
  },
  {
    // The access token outlives a logout until it expires; a password change ends it with every other session.
    name: "Change my password",
    operation: `POST ${at("/users/me/password")}`,
    as: "customer",
    status: 204,
    before: [keep("newPassword", '`${pm.variables.get("password")} renewed`')],
    body: { current_password: "{{password}}", new_password: "{{newPassword}}", new_password2: "{{newPassword}}" },
  },
  {
    name: "Log in with the new password",
    operation: `POST ${at("/users/login")}`,
    as: "anyone",
    status: 200,
    body: { email: "{{email}}", password: "{{newPassword}}" },
    after: keepTokens,
  },
  {
    name: "Log out everywhere",
    operation: `POST ${at("/users/logout-all")}`,
    as: "customer",
    status: 204,
  },
  {
    name: "Log in once more",
    operation: `POST ${at("/users/login")}`,
    as: "anyone",
    status: 200,
    body: { email: "{{email}}", password: "{{newPassword}}" },
    after: keepTokens,
  },
  {
    name: "Delete my account",
    operation: `DELETE ${at("/users/{id}")}`,
    as: "customer",
    status: 204,
    path: { id: "{{userId}}" },
  },
];
