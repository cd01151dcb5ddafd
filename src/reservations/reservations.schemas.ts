import { z } from "@hono/zod-openapi";
import { pageOf, PageQuery } from "../http/pagination.ts";
import { DatabaseId, Instant, Timestamp } from "../http/schemas.ts";
import { dayMs } from "../platform/clock.ts";

const Status = z.enum(["pending", "confirmed", "rejected"]);

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
  rejected_at: Timestamp.nullable(),
  reject_reason: z.string().nullable().openapi({ description: "Why an admin rejected it; null unless rejected" }),
}).openapi("Reservation");

export const ReservationPageSchema = pageOf(ReservationSchema, "ReservationPage");

/** A window three weeks ahead, 09:00–11:00 UTC: an example Swagger's "Try it out" can book as it stands. */
function exampleWindow() {
  const start = new Date(Math.floor(Date.now() / dayMs) * dayMs + 21 * dayMs + 9 * 3600_000);
  return { start_at: start.toISOString(), end_at: new Date(start.getTime() + 2 * 3600_000).toISOString() };
}

const BookingFields = z.object({
  start_at: Instant,
  end_at: Instant,
  headcount: z.number().int().min(1),
});

/** Only these fields are read from a body: `status`, `confirmed_at` and the rest are dropped. */
export const BookingSchema = BookingFields.extend({
  user_id: DatabaseId.optional().openapi({
    description: "Admins only: book for this customer (their pending cap applies). Ignored for a customer",
  }),
}).openapi("Booking", { example: { ...exampleWindow(), headcount: 1200 } });

export const BookingChangesSchema = BookingFields.partial().openapi("BookingChanges", { example: { headcount: 1500 } });

export const RejectionSchema = z.object({
  reason: z.string().min(1).max(500),
}).openapi("Rejection", { example: { reason: "The exam centre is closed that day" } });

export const maxBulkConfirm = 100;

export const BulkConfirmSchema = z.object({
  ids: z.array(DatabaseId).min(1).max(maxBulkConfirm)
    .refine((ids) => new Set(ids).size === ids.length, "must not repeat an id"),
}).openapi("BulkConfirm", { example: { ids: [12, 15, 16] } });

/** What `POST /reservations/{id}/confirm/` would have answered for one id of a bulk confirmation. */
export const BulkConfirmResultSchema = z.object({
  id: z.number().int(),
  status: z.number().int().openapi({ example: 200, description: "200, or the status of the problem" }),
  reservation: ReservationSchema.optional(),
  code: z.string().optional().openapi({ example: "CAPACITY_EXCEEDED", description: "The problem's code" }),
  detail: z.string().optional().openapi({ description: "The problem's detail" }),
}).openapi("BulkConfirmResult");

export const BulkConfirmResultsSchema = z.object({ results: z.array(BulkConfirmResultSchema) })
  .openapi("BulkConfirmResults");

/** Oldest first (`created_at`, the admin's queue), newest first (`-created_at`, the default), or by start. */
export const Ordering = z.enum(["created_at", "-created_at", "start_at", "-start_at"]);

const ReservationFiltersQuery = z.object({
  ordering: Ordering.default("-created_at").openapi({ description: "Ties by id in the same direction" }),
  status: Status.optional(),
  user_id: DatabaseId.optional()
    .openapi({ description: "Admins only; ignored for a customer" }),
  from: Instant.optional().openapi({ description: "Reservations ending after this instant" }),
  to: Instant.optional().openapi({ description: "Reservations starting before this instant" }),
});

const fromBeforeTo = (q: { from?: Date; to?: Date }) => !q.from || !q.to || q.from < q.to;
const fromBeforeToRule = { path: ["to"], message: "must be after from" };

export const ReservationListQuery = PageQuery.extend(ReservationFiltersQuery.shape).refine(
  fromBeforeTo,
  fromBeforeToRule,
);

/** The list's filters and ordering, without pagination. */
export const ReservationExportQuery = ReservationFiltersQuery.refine(fromBeforeTo, fromBeforeToRule);

export type Reservation = z.infer<typeof ReservationSchema>;
export type ReservationStatus = z.infer<typeof Status>;
export type Booking = z.infer<typeof BookingSchema>;
export type ReservationOrdering = z.infer<typeof Ordering>;
export type ReservationFilters = {
  ordering: ReservationOrdering;
  status?: ReservationStatus;
  user_id?: number;
  from?: Date;
  to?: Date;
};
export type BulkConfirmResult = z.infer<typeof BulkConfirmResultSchema>;
