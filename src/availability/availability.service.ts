import type { Deps } from "../deps.ts";
import { fieldErrors } from "../http/problem.ts";
import { dayMs } from "../platform/clock.ts";
import type { Caller } from "../auth/auth.schemas.ts";
import { slotUsage, type Window } from "../reservations/capacity.ts";
import { misaligned } from "../reservations/rules.ts";
import type { AvailabilityQuery } from "./availability.schemas.ts";

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

/** Every slot of the asked window with its confirmed and remaining capacity; any signed-in user may look. */
export async function getAvailability(deps: Pick<Deps, "sql" | "config">, caller: Caller, query: AvailabilityQuery) {
  const window = windowOf(query, deps.config.SLOT_MINUTES);
  const [, slots] = await Promise.all([caller.user, slotUsage(deps.sql, deps.config, window)]);
  return slots;
}
