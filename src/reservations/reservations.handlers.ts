import type { Context } from "hono";
import type { AppRouteHandler } from "../http/router.ts";
import { pageAfter, paginated } from "../http/pagination.ts";
import { publicUrl } from "../http/forwarded.ts";
import { createReservation, getReservation, listReservations } from "./reservations.service.ts";
import { confirmReservation, deleteReservation, rejectReservation, updateReservation } from "./changes.ts";
import { confirmReservations } from "./bulk-confirm.ts";
import type { Write } from "./reservation.ts";
import { exportReservations } from "./export.ts";
import { auditEvents, reservationHistory } from "./history.ts";
import { notModified } from "./etag.ts";
import type * as routes from "./reservations.routes.ts";

/** What a write passes on of its request: the request id for history, If-Match, and the Idempotency-Key. */
const writeOf = (c: Context): Write => ({
  requestId: c.var.requestId,
  ifMatch: c.req.header("If-Match"),
  idempotency: c.var.idempotency,
});

export const create: AppRouteHandler<typeof routes.create> = async (c) => {
  const { reservation, etag } = await createReservation(c.var.deps, c.var.caller, c.req.valid("json"), writeOf(c));
  return c.json(reservation, 201, { ETag: etag });
};

export const list: AppRouteHandler<typeof routes.list> = async (c) => {
  const { page, page_size, ...filters } = c.req.valid("query");
  const { count, reservations } = await listReservations(c.var.deps, c.var.caller, filters, { page, page_size });
  return c.json(paginated(publicUrl(c, c.var.deps.config.TRUST_PROXY), { page, page_size }, count, reservations), 200);
};

export const get: AppRouteHandler<typeof routes.get> = async (c) => {
  const { reservation, etag } = await getReservation(c.var.deps, c.var.caller, c.req.valid("param").id);
  if (notModified(c.req.header("If-None-Match"), etag)) return c.body(null, 304, { ETag: etag });
  return c.json(reservation, 200, { ETag: etag });
};

export const update: AppRouteHandler<typeof routes.update> = async (c) => {
  const write = writeOf(c);
  const changes = c.req.valid("json");
  const { reservation, etag } = await updateReservation(
    c.var.deps,
    c.var.caller,
    c.req.valid("param").id,
    changes,
    write,
  );
  return c.json(reservation, 200, { ETag: etag });
};

export const remove: AppRouteHandler<typeof routes.remove> = async (c) => {
  const write = writeOf(c);
  await deleteReservation(c.var.deps, c.var.caller, c.req.valid("param").id, write);
  return c.body(null, 204);
};

export const confirm: AppRouteHandler<typeof routes.confirm> = async (c) => {
  const write = writeOf(c);
  const { reservation, etag } = await confirmReservation(c.var.deps, c.var.caller, c.req.valid("param").id, write);
  return c.json(reservation, 200, { ETag: etag });
};

export const reject: AppRouteHandler<typeof routes.reject> = async (c) => {
  const write = writeOf(c);
  const { id } = c.req.valid("param");
  const { reservation, etag } = await rejectReservation(
    c.var.deps,
    c.var.caller,
    id,
    c.req.valid("json").reason,
    write,
  );
  return c.json(reservation, 200, { ETag: etag });
};

export const confirmMany: AppRouteHandler<typeof routes.confirmMany> = async (c) => {
  const results = await confirmReservations(c.var.deps, c.var.caller, c.req.valid("json").ids, writeOf(c));
  return c.json(results, 200);
};

export const exportCsv: AppRouteHandler<typeof routes.exportCsv> = async (c) => {
  const csv = await exportReservations(c.var.deps, c.var.caller, c.req.valid("query"));
  return c.body(csv, 200, {
    "Content-Type": "text/csv; charset=utf-8",
    "Content-Disposition": 'attachment; filename="reservations.csv"',
  });
};

export const history: AppRouteHandler<typeof routes.history> = async (c) => {
  const page = c.req.valid("query");
  const { events, more } = await reservationHistory(c.var.deps, c.var.caller, c.req.valid("param").id, page);
  const url = publicUrl(c, c.var.deps.config.TRUST_PROXY);
  return c.json({ results: events, next: more ? pageAfter(url, page.page_size, events.at(-1)!.id) : null }, 200);
};

export const audit: AppRouteHandler<typeof routes.audit> = async (c) => {
  const { page, page_size, ...filters } = c.req.valid("query");
  const { count, events } = await auditEvents(c.var.deps, c.var.caller, filters, { page, page_size });
  return c.json(paginated(publicUrl(c, c.var.deps.config.TRUST_PROXY), { page, page_size }, count, events), 200);
};
