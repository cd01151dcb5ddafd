import type { AppRouteHandler } from "../http/router.ts";
import { getAvailability } from "./availability.service.ts";
import type * as routes from "./availability.routes.ts";

export const availability: AppRouteHandler<typeof routes.availability> = async (c) => {
  const slots = await getAvailability(c.var.deps, c.var.caller, c.req.valid("query"));
  return c.json({
    slots: slots.map(({ start_at, end_at, capacity, confirmed, remaining }) => ({
      start_at: start_at.toISOString(),
      end_at: end_at.toISOString(),
      capacity,
      confirmed,
      remaining,
    })),
  }, 200);
};
