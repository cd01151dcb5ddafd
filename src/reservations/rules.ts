import type { Config } from "../config.ts";
import { AppError, type FieldError, fieldErrors } from "../http/problem.ts";
import { dayMs } from "../platform/clock.ts";
import type { User } from "../auth/auth.schemas.ts";
import { type Hold, isSlotBoundary } from "./capacity.ts";

/** One field error per instant that is not on a slot boundary. */
export function misaligned(instants: Record<string, Date>, slotMinutes: number): FieldError[] {
  return Object.entries(instants)
    .filter(([, instant]) => !isSlotBoundary(instant, slotMinutes))
    .map(([path]) => ({ path, message: `must be on a ${slotMinutes}-minute slot boundary (UTC)` }));
}

/**
 * Windows: `start_at < end_at`, both on slot boundaries, at most 24 h long; `headcount` at most
 * MAX_CONCURRENT_EXAMINEES (the schemas already make it an integer ≥ 1). Checked on the resulting reservation.
 */
export function assertValidBooking(booking: Hold, config: Pick<Config, "SLOT_MINUTES" | "MAX_CONCURRENT_EXAMINEES">) {
  const errors = misaligned({ start_at: booking.start_at, end_at: booking.end_at }, config.SLOT_MINUTES);
  const length = booking.end_at.getTime() - booking.start_at.getTime();
  if (length <= 0) errors.push({ path: "end_at", message: "must be after start_at" });
  if (length > dayMs) errors.push({ path: "end_at", message: "must be at most 24 hours after start_at" });
  if (booking.headcount > config.MAX_CONCURRENT_EXAMINEES) {
    errors.push({ path: "headcount", message: `must be at most ${config.MAX_CONCURRENT_EXAMINEES}` });
  }
  if (errors.length > 0) throw fieldErrors(errors);
}

/**
 * A customer can request or change a reservation while `now <= start_at - BOOKING_LEAD_DAYS`; an admin is
 * not bound by the lead time, but nobody books, moves or confirms a window that has already started.
 */
export function assertBookingOpen(startAt: Date, user: Pick<User, "is_admin">, now: Date, leadDays: number) {
  if (now >= startAt) {
    throw new AppError("BOOKING_DEADLINE_PASSED", `The window starting ${startAt.toISOString()} has already started`);
  }
  if (!user.is_admin && now.getTime() > startAt.getTime() - leadDays * dayMs) {
    throw new AppError(
      "BOOKING_DEADLINE_PASSED",
      `A window starting ${startAt.toISOString()} can only be booked or changed until ${leadDays} days before`,
    );
  }
}
