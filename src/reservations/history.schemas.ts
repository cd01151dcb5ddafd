import { z } from "@hono/zod-openapi";
import { pageOf, PageQuery } from "../http/pagination.ts";
import { DatabaseId, Instant, Timestamp } from "../http/schemas.ts";

const Action = z.enum(["created", "changed", "confirmed", "rejected", "deleted", "released"]);

export const ReservationEventSchema = z.object({
  id: z.number().int().openapi({ example: 7 }),
  reservation_id: z.number().int().openapi({ example: 1 }),
  action: Action,
  at: Timestamp,
  actor_id: z.number().int().nullable().openapi({ example: 2, description: "Who made the change" }),
  request_id: z.string().nullable().openapi({ description: "The X-Request-Id of the request that made it" }),
  changes: z.record(z.string(), z.tuple([z.unknown(), z.unknown()])).nullable()
    .openapi({ description: "`{ field: [old, new] }`", example: { headcount: [1200, 1500] } }),
}).openapi("ReservationEvent");

export const HistorySchema = z.object({ results: z.array(ReservationEventSchema) }).openapi("ReservationHistory");

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
