import { assertEquals } from "./assert.ts";
import type { Reply, TestContext } from "./app.ts";
import { api } from "../../harness/paths.ts";

const hourMs = 3600_000;

/** A booking body of `hours` one-hour slots from `start` (any ISO offset). */
export function booking(start: string, hours: number, headcount: number) {
  const startAt = new Date(start);
  return {
    start_at: startAt.toISOString(),
    end_at: new Date(startAt.getTime() + hours * hourMs).toISOString(),
    headcount,
  };
}

/** Books through the API, failing the test unless a reservation is created. */
export async function book(t: TestContext, token: string, body: Record<string, unknown>) {
  const reply = await t.request("POST", api("/reservations/"), { token, body });
  assertEquals(reply.status, 201, JSON.stringify(reply.body));
  return reply.body;
}

export function confirm(t: TestContext, token: string, id: number): Promise<Reply> {
  return t.request("POST", api(`/reservations/${id}/confirm/`), { token });
}

/** Books as `token` and has the admin `adminToken` confirm it. */
export async function bookConfirmed(t: TestContext, token: string, adminToken: string, body: Record<string, unknown>) {
  const reservation = await book(t, token, body);
  const reply = await confirm(t, adminToken, reservation.id);
  assertEquals(reply.status, 200, JSON.stringify(reply.body));
  return reply.body;
}

/** The confirmed headcount of each slot of a UTC day, keyed by the slot's start. */
export async function confirmedOn(t: TestContext, token: string, date: string): Promise<Record<string, number>> {
  const reply = await t.request("GET", api(`/availability/?date=${date}`), { token });
  assertEquals(reply.status, 200, JSON.stringify(reply.body));
  return Object.fromEntries(
    reply.body.slots.map((slot: { start_at: string; confirmed: number }) => [slot.start_at, slot.confirmed]),
  );
}

/** A new access token for `user`, issued at the test clock's current time (a moved clock expires old ones). */
export async function freshAccess(t: TestContext, user: { email: string; password: string }): Promise<string> {
  const reply = await t.request("POST", api("/users/login/"), { body: user });
  assertEquals(reply.status, 200, JSON.stringify(reply.body));
  return reply.body.access;
}
