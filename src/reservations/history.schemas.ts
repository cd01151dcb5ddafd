import { z } from "@hono/zod-openapi";
import { pageOf, PageQuery, pageSize } from "../http/pagination.ts";
import { DatabaseId, Instant, Timestamp } from "../http/schemas.ts";

const Action = z.enum(["created", "changed", "confirmed", "rejected", "deleted", "released"]);

const createdEvent = {
  id: 6,
  reservation_id: 1,
  action: "created",
  at: "2027-03-01T10:00:00.000Z",
  actor_id: 2,
  request_id: "0b6e7f3a-2c4d-4e8f-9a1b-3c5d7e9f1a2b",
  changes: {
    start_at: [null, "2027-04-15T09:00:00.000Z"],
    end_at: [null, "2027-04-15T11:00:00.000Z"],
    headcount: [null, 1200],
  },
};
const changedEvent = {
  ...createdEvent,
  id: 7,
  action: "changed",
  at: "2027-03-02T08:30:00.000Z",
  request_id: "4f1c2a7e-8d3b-4c61-9a0e-5b7f3e2d1c90",
  changes: { headcount: [1200, 1500] },
};

export const ReservationEventSchema = z.object({
  id: z.number().int().openapi({ example: 7 }),
  reservation_id: z.number().int().openapi({ example: 1 }),
  action: Action,
  at: Timestamp.openapi({ example: "2027-03-02T08:30:00.000Z" }),
  actor_id: z.number().int().nullable().openapi({ example: 2, description: "Who made the change" }),
  request_id: z.string().nullable().openapi({ description: "The X-Request-Id of the request that made it" }),
  changes: z.record(z.string(), z.tuple([z.unknown(), z.unknown()])).nullable()
    .openapi({ description: "`{ field: [old, new] }`", example: { headcount: [1200, 1500] } }),
}).openapi("ReservationEvent", { example: changedEvent });

export const HistorySchema = z.object({
  results: z.array(ReservationEventSchema),
  next: z.string().url().nullable().openapi({ description: "The next page (absolute URL), or null after the last" }),
}).openapi("ReservationHistory", { example: { results: [createdEvent, changedEvent], next: null } });

/** History pages: oldest first, from the event after `after`. */
export const HistoryQuery = z.object({
  page_size: pageSize(100),
  after: z.coerce.number().int().min(0).optional()
    .openapi({ example: 7, description: "An event id: the page starts with the event after it" }),
});

export type HistoryPage = z.infer<typeof HistoryQuery>;

export const AuditPageSchema = pageOf(ReservationEventSchema, "AuditPage");

export const AuditQuery = PageQuery.extend({
  reservation_id: DatabaseId.optional(),
  actor_id: DatabaseId.optional(),
  action: Action.optional(),
  from: Instant.optional().openapi({ description: "Events at or after this instant" }),
  to: Instant.optional().openapi({ description: "Events before this instant" }),
}).refine((q) => !q.from || !q.to || q.from < q.to, { path: ["to"], message: "must be after from" });

export type ReservationEvent = z.infer<typeof ReservationEventSchema>;
export type AuditFilters = Omit<z.infer<typeof AuditQuery>, "page" | "page_size">;
