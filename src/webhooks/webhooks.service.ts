import type { Deps } from "../deps.ts";
import { AppError, fieldErrors } from "../http/problem.ts";
import { type Page, withTotal } from "../http/pagination.ts";
import { systemResolver } from "../platform/dns.ts";
import type { Caller } from "../auth/auth.schemas.ts";
import { newSecret } from "./signature.ts";
import { assertUrlForm, checkedAddresses, TargetRefused } from "./targets.ts";
import {
  actionOf,
  type DeliveryAttempt,
  maxWebhooksPerUser,
  typeOf,
  type Webhook,
  type WebhookInput,
} from "./webhooks.schemas.ts";

type WebhookDeps = Pick<Deps, "sql" | "config" | "clock" | "resolveHost">;

type WebhookRow = { id: number; url: string; actions: string[]; created_at: Date };

const toWebhook = (row: WebhookRow): Webhook => ({
  id: row.id,
  url: row.url,
  events: row.actions.map(typeOf),
  created_at: row.created_at.toISOString(),
});

const notFound = () => new AppError("NOT_FOUND", "No such webhook");

/** The URL rules, the address check included: any refusal is a 400 naming `url`. */
async function assertTarget({ config, resolveHost = systemResolver }: WebhookDeps, url: URL) {
  try {
    assertUrlForm(url, config.APP_ENV === "production");
    await checkedAddresses(url.hostname, resolveHost, config.WEBHOOK_ALLOW_PRIVATE);
  } catch (error) {
    if (error instanceof TargetRefused) throw fieldErrors([{ path: "url", message: error.message }]);
    throw error;
  }
}

/**
 * Registers an endpoint with a new secret, returned only here. The caller's user row is held while their endpoints
 * are counted, so concurrent registrations cannot pass the limit together.
 */
export async function registerWebhook(deps: WebhookDeps, caller: Caller, input: WebhookInput) {
  const { sql, clock } = deps;
  const url = new URL(input.url);
  const [user] = await Promise.all([caller.user, assertTarget(deps, url)]);
  const secret = newSecret();
  const [, [row]] = await sql.begin((tx) => [
    tx`SELECT id FROM users WHERE id = ${user.id} FOR NO KEY UPDATE`,
    tx<WebhookRow[]>`
      INSERT INTO webhooks (user_id, url, actions, secret, created_at)
      SELECT ${user.id}, ${url.href}, ${input.events.map(actionOf)}::text[], ${secret}, ${clock()}
      WHERE (SELECT count(*) FROM webhooks WHERE user_id = ${user.id}) < ${maxWebhooksPerUser}
      RETURNING id, url, actions, created_at`,
  ]);
  if (!row) {
    throw new AppError("TOO_MANY_WEBHOOKS", `You already have ${maxWebhooksPerUser} webhooks: delete one first`);
  }
  return { ...toWebhook(row), secret };
}

/** The caller's own endpoints, oldest first, without their secrets. */
export async function listWebhooks({ sql }: WebhookDeps, caller: Caller, page: Page) {
  const [, rows] = await Promise.all([
    caller.user,
    sql<(WebhookRow & { total: number })[]>`${
      withTotal(
        sql,
        sql`SELECT id, url, actions, created_at FROM webhooks WHERE user_id = ${caller.id}`,
        sql`ORDER BY id`,
        page,
      )
    }`,
  ]);
  return { count: rows[0].total, webhooks: rows.filter((row) => row.id !== null).map(toWebhook) };
}

/** Only the owner's: anyone else's, an admin's included, is "not found". What it still owed goes with it. */
export async function deleteWebhook({ sql }: WebhookDeps, caller: Caller, id: number) {
  const user = await caller.user;
  // The endpoint's row first, then what it is owed: the order the delivery worker takes them in.
  const [deleted] = await sql<{ gone: boolean }[]>`
    WITH endpoint AS (DELETE FROM webhooks WHERE id = ${id} AND user_id = ${user.id} RETURNING id),
    owed AS (DELETE FROM webhook_deliveries WHERE webhook_id IN (SELECT id FROM endpoint))
    SELECT EXISTS (SELECT 1 FROM endpoint) AS gone`;
  if (!deleted.gone) throw notFound();
}

type AttemptRow = Omit<DeliveryAttempt, "type" | "at" | "next_attempt_at"> & {
  action: string;
  at: Date;
  next_attempt_at: Date | null;
};

/** The owner's endpoint's attempts, newest first; 404 for anyone else. */
export async function listDeliveryAttempts({ sql }: WebhookDeps, caller: Caller, id: number, page: Page) {
  const [, [owned], rows] = await Promise.all([
    caller.user,
    sql`SELECT 1 FROM webhooks WHERE id = ${id} AND user_id = ${caller.id}`,
    sql<(AttemptRow & { total: number; id: number | null })[]>`${
      withTotal(
        sql,
        sql`
          SELECT a.id, a.event_id::int, e.action, a.attempt, a.at, a.status_code, a.error, a.next_attempt_at, a.state
          FROM webhook_attempts a
          JOIN webhooks w ON w.id = a.webhook_id AND w.user_id = ${caller.id}
          JOIN reservation_events e ON e.id = a.event_id
          WHERE a.webhook_id = ${id}`,
        sql`ORDER BY id DESC`,
        page,
      )
    }`,
  ]);
  if (!owned) throw notFound();
  const attempts = rows.filter((row) => row.id !== null).map((row): DeliveryAttempt => ({
    event_id: row.event_id,
    type: typeOf(row.action),
    attempt: row.attempt,
    at: row.at.toISOString(),
    status_code: row.status_code,
    error: row.error,
    next_attempt_at: row.next_attempt_at?.toISOString() ?? null,
    state: row.state,
  }));
  return { count: rows[0].total, attempts };
}
