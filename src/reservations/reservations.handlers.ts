import type { AppRouteHandler } from "../http/router.ts";
import { paginated } from "../http/pagination.ts";
import { publicUrl } from "../http/forwarded.ts";
import {
  confirmReservation,
  createReservation,
  deleteReservation,
  getReservation,
  listReservations,
  updateReservation,
} from "./reservations.service.ts";
import type * as routes from "./reservations.routes.ts";

export const create: AppRouteHandler<typeof routes.create> = async (c) => {
  const reservation = await createReservation(c.var.deps, c.var.user, c.req.valid("json"));
  return c.json(reservation, 201);
};

export const list: AppRouteHandler<typeof routes.list> = async (c) => {
  const { page, page_size, ...filters } = c.req.valid("query");
  const { count, reservations } = await listReservations(c.var.deps, c.var.user, filters, { page, page_size });
  return c.json(paginated(publicUrl(c, c.var.deps.config.TRUST_PROXY), { page, page_size }, count, reservations), 200);
};

export const get: AppRouteHandler<typeof routes.get> = async (c) => {
  const { id } = c.req.valid("param");
  return c.json(await getReservation(c.var.deps, c.var.user, id), 200);
};

export const update: AppRouteHandler<typeof routes.update> = async (c) => {
  const { id } = c.req.valid("param");
  return c.json(await updateReservation(c.var.deps, c.var.user, id, c.req.valid("json")), 200);
};

export const remove: AppRouteHandler<typeof routes.remove> = async (c) => {
  const { id } = c.req.valid("param");
  await deleteReservation(c.var.deps, c.var.user, id);
  return c.body(null, 204);
};

export const confirm: AppRouteHandler<typeof routes.confirm> = async (c) => {
  const { id } = c.req.valid("param");
  return c.json(await confirmReservation(c.var.deps, c.var.user, id), 200);
};
