import { z } from "@hono/zod-openapi";
import { pageOf, PageQuery } from "../http/pagination.ts";

/** An ISO 8601 instant with any offset (`2027-04-15T14:00:00+09:00`), as a Date. */
export const Instant = z.iso.datetime({ offset: true })
  .transform((text) => new Date(text))
  .refine((date) => !Number.isNaN(date.getTime()), "must be a valid instant")
  .openapi({ type: "string", format: "date-time", example: "2027-04-15T14:00:00+09:00" });

const Status = z.enum(["pending", "confirmed"]);

const timestamp = z.iso.datetime().openapi({ example: "2027-04-15T05:00:00.000Z" });

export const ReservationSchema = z.object({
  id: z.number().int().openapi({ example: 1 }),
  user_id: z.number().int().openapi({ example: 2 }),
  start_at: timestamp,
  end_at: timestamp,
  headcount: z.number().int().openapi({ example: 1200 }),
  status: Status,
  created_at: timestamp,
  updated_at: timestamp,
  confirmed_at: timestamp.nullable(),
}).openapi("Reservation");

export const ReservationPageSchema = pageOf(ReservationSchema, "ReservationPage");

/** Only these fields are read from a body: `status`, `user_id`, `confirmed_at` and the rest are dropped. */
export const BookingSchema = z.object({
  start_at: Instant,
  end_at: Instant.openapi({ example: "2027-04-15T16:00:00+09:00" }),
  headcount: z.number().int().min(1).openapi({ example: 1200 }),
}).openapi("Booking");

export const BookingChangesSchema = BookingSchema.partial().openapi("BookingChanges");

export const ReservationListQuery = PageQuery.extend({
  status: Status.optional(),
  user_id: z.coerce.number().int().min(1).max(2_147_483_647).optional()
    .openapi({ description: "Admins only; ignored for a customer" }),
  from: Instant.optional().openapi({ description: "Reservations ending after this instant" }),
  to: Instant.optional().openapi({ description: "Reservations starting before this instant" }),
}).refine((q) => !q.from || !q.to || q.from < q.to, { path: ["to"], message: "must be after from" });

export type Reservation = z.infer<typeof ReservationSchema>;
export type ReservationStatus = z.infer<typeof Status>;
export type Booking = z.infer<typeof BookingSchema>;
export type ReservationFilters = { status?: ReservationStatus; user_id?: number; from?: Date; to?: Date };
