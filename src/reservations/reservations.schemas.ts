import { z } from "@hono/zod-openapi";
import type { Config } from "../config.ts";
import { pageOf, PageQuery } from "../http/pagination.ts";
import { DatabaseId, Instant, Timestamp } from "../http/schemas.ts";
import { dayMs } from "../platform/clock.ts";

const Status = z.enum(["pending", "confirmed", "rejected"]);

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
  rejected_at: Timestamp.nullable(),
  reject_reason: z.string().nullable().openapi({ description: "Why an admin rejected it; null unless rejected" }),
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
    rejected_at: null,
    reject_reason: null,
  },
});

export const ReservationPageSchema = pageOf(ReservationSchema, "ReservationPage");

const BookingFields = z.object({
  start_at: Instant,
  end_at: Instant,
  headcount: z.number().int().min(1),
});

/** Only these fields are read from a body: `status`, `confirmed_at` and the rest are dropped. */
export const BookingSchema = BookingFields.extend({
  // Read for an admin only (`bookingOwner`): from a customer, like any field they cannot set, it is ignored whatever it
  // holds, never a reason to refuse the booking.
  user_id: z.unknown().optional().openapi({
    type: "integer",
    minimum: 1,
    description: "Admins only: book for this customer (their pending cap applies). Ignored for a customer",
  }),
}).openapi("Booking");

export const BookingChangesSchema = BookingFields.partial().openapi("BookingChanges");

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
