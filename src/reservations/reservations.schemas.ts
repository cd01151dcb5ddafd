import { z } from "@hono/zod-openapi";
import { pageOf, PageQuery } from "../http/pagination.ts";
import { DatabaseId, Instant, Timestamp } from "../http/schemas.ts";
import { dayMs } from "../platform/clock.ts";

const Status = z.enum(["pending", "confirmed"]);

export const ReservationSchema = z.object({
  id: z.number().int().openapi({ example: 1 }),
  user_id: z.number().int().openapi({ example: 2 }),
  start_at: Timestamp,
  end_at: Timestamp,
  headcount: z.number().int().openapi({ example: 1200 }),
  status: Status,
  created_at: Timestamp,
  updated_at: Timestamp,
  confirmed_at: Timestamp.nullable(),
}).openapi("Reservation");

export const ReservationPageSchema = pageOf(ReservationSchema, "ReservationPage");

/** A window three weeks ahead, 09:00–11:00 UTC: an example Swagger's "Try it out" can book as it stands. */
function exampleWindow() {
  const start = new Date(Math.floor(Date.now() / dayMs) * dayMs + 21 * dayMs + 9 * 3600_000);
  return { start_at: start.toISOString(), end_at: new Date(start.getTime() + 2 * 3600_000).toISOString() };
}

/** Only these fields are read from a body: `status`, `user_id`, `confirmed_at` and the rest are dropped. */
export const BookingSchema = z.object({
  start_at: Instant,
  end_at: Instant,
  headcount: z.number().int().min(1),
}).openapi("Booking", { example: { ...exampleWindow(), headcount: 1200 } });

export const BookingChangesSchema = BookingSchema.partial().openapi("BookingChanges", { example: { headcount: 1500 } });

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
