import type { AppRouteHandler } from "../http/router.ts";
import { fieldErrors } from "../http/problem.ts";
import { slotUsage, type Window } from "../reservations/capacity.ts";
import { misaligned } from "../reservations/rules.ts";
import type { AvailabilityQuery } from "./availability.schemas.ts";
import type * as routes from "./availability.routes.ts";

const dayMs = 24 * 3600_000;
const maxSpanDays = 31;

/** `date` (a whole UTC day) or `from` + `to` (slot-aligned, `to` exclusive, at most 31 days): never both. */
function windowOf({ date, from, to }: AvailabilityQuery, slotMinutes: number): Window {
  if (date && !from && !to) {
    const start_at = new Date(`${date}T00:00:00Z`);
    return { start_at, end_at: new Date(start_at.getTime() + dayMs) };
  }
  if (date || !from || !to) throw fieldErrors([{ path: "query", message: "give either date, or both from and to" }]);
  const errors = misaligned({ from, to }, slotMinutes);
  const span = to.getTime() - from.getTime();
  if (span <= 0) errors.push({ path: "to", message: "must be after from" });
  if (span > maxSpanDays * dayMs) {
    errors.push({ path: "to", message: `must be at most ${maxSpanDays} days after from` });
  }
  if (errors.length > 0) throw fieldErrors(errors);
  return { start_at: from, end_at: to };
}

export const availability: AppRouteHandler<typeof routes.availability> = async (c) => {
  const { sql, config } = c.var.deps;
  const slots = await slotUsage(sql, config, windowOf(c.req.valid("query"), config.SLOT_MINUTES));
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
