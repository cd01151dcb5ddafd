import { z } from "@hono/zod-openapi";
import type { Config } from "../config.ts";
import { pageOf, PageQuery } from "../http/pagination.ts";
import { DatabaseId, Instant, Timestamp } from "../http/schemas.ts";
import { dayMs } from "../platform/clock.ts";

const Status = z.enum(["pending", "confirmed"]);

export const ReservationSchema = z.object({
  id: z.number().int().openapi({ example: 1 }),
  user_id: z.number().int().openapi({ example: 2 }),
  start_at: Timestamp.openapi({ example: "2027-04-15T09:00:00.000Z" }),
  end_at: Timestamp.openapi({ example: "2027-04-15T11:00:00.000Z" }),
  headcount: z.number().int().openapi({ example: 1200 }),
  status: Status,
  created_at: Timestamp.openapi({ example: "2027-03-01T10:00:00.000Z" }),
  updated_at: Timestamp.openapi({ example: "2027-03-01T10:00:00.000Z" }),
  confirmed_at: Timestamp.nullable(),
}).openapi("Reservation", {
  example: {
    id: 1,
    user_id: 2,
    start_at: "2027-04-15T09:00:00.000Z",
    end_at: "2027-04-15T11:00:00.000Z",
    headcount: 1200,
    status: "confirmed",
    created_at: "2027-03-01T10:00:00.000Z",
    updated_at: "2027-03-02T08:30:00.000Z",
    confirmed_at: "2027-03-02T08:30:00.000Z",
  },
});

export const ReservationPageSchema = pageOf(ReservationSchema, "ReservationPage");

/** Only these fields are read from a body: `status`, `user_id`, `confirmed_at` and the rest are dropped. */
export const BookingSchema = z.object({
  start_at: Instant,
  end_at: Instant,
  headcount: z.number().int().min(1),
}).openapi("Booking");

export const BookingChangesSchema = BookingSchema.partial().openapi("BookingChanges");

/**
 * A window three weeks (and past the lead time) ahead, about two hours from 09:00 UTC in whole slots: an example
 * Swagger's "Try it out" can book as it stands, under any SLOT_MINUTES.
 */
function exampleWindow(now: Date, config: Pick<Config, "SLOT_MINUTES" | "BOOKING_LEAD_DAYS">) {
  const slotMs = config.SLOT_MINUTES * 60_000;
  const day = Math.floor(now.getTime() / dayMs) * dayMs + Math.max(21, config.BOOKING_LEAD_DAYS + 1) * dayMs;
  const start = day + Math.ceil(9 * 3600_000 / slotMs) * slotMs;
  const end = start + Math.max(1, Math.round(2 * 3600_000 / slotMs)) * slotMs;
  return { start_at: new Date(start).toISOString(), end_at: new Date(end).toISOString() };
}

/**
 * What the served document says of bookings that depends on the settings and today's date: `headcount`'s maximum
 * (MAX_CONCURRENT_EXAMINEES) and examples that are valid bookings now.
 */
export function bookingSchemaFacts(
  config: Pick<Config, "SLOT_MINUTES" | "BOOKING_LEAD_DAYS" | "MAX_CONCURRENT_EXAMINEES">,
  now: Date,
) {
  const window = exampleWindow(now, config);
  const properties = {
    start_at: { example: window.start_at },
    end_at: { example: window.end_at },
    headcount: { maximum: config.MAX_CONCURRENT_EXAMINEES },
  };
  const headcount = (wanted: number) => Math.min(wanted, config.MAX_CONCURRENT_EXAMINEES);
  return {
    Booking: { example: { ...window, headcount: headcount(1200) }, properties },
    BookingChanges: { example: { headcount: headcount(1500) }, properties },
    Reservation: { properties: { headcount: properties.headcount } },
  };
}

export const ReservationListQuery = PageQuery.extend({
  status: Status.optional(),
  user_id: DatabaseId.optional()
    .openapi({ description: "Admins only; ignored for a customer" }),
  from: Instant.optional().openapi({ description: "Reservations ending after this instant" }),
  to: Instant.optional().openapi({ description: "Reservations starting before this instant" }),
}).refine((q) => !q.from || !q.to || q.from < q.to, { path: ["to"], message: "must be after from" });

export type Reservation = z.infer<typeof ReservationSchema>;
export type ReservationStatus = z.infer<typeof Status>;
export type Booking = z.infer<typeof BookingSchema>;
export type ReservationFilters = { status?: ReservationStatus; user_id?: number; from?: Date; to?: Date };
