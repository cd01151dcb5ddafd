import { z } from "@hono/zod-openapi";
import { Instant, Timestamp } from "../http/schemas.ts";

export const AvailabilityQuery = z.object({
  date: z.iso.date().optional().openapi({ description: "A UTC day", example: "2027-04-15" }),
  from: Instant.optional().openapi({ description: "First slot (slot-aligned); with `to`, instead of `date`" }),
  to: Instant.optional().openapi({ description: "End of the last slot (exclusive, at most 31 days after `from`)" }),
});

export const AvailabilitySchema = z.object({
  slots: z.array(
    z.object({
      start_at: Timestamp.openapi({ example: "2027-04-15T09:00:00.000Z" }),
      end_at: Timestamp.openapi({ example: "2027-04-15T10:00:00.000Z" }),
      capacity: z.number().int().openapi({ example: 50_000 }),
      confirmed: z.number().int().openapi({ example: 30_000 }),
      remaining: z.number().int().openapi({ example: 20_000 }),
    }).openapi("SlotAvailability"),
  ),
}).openapi("Availability", {
  example: {
    slots: [
      {
        start_at: "2027-04-15T09:00:00.000Z",
        end_at: "2027-04-15T10:00:00.000Z",
        capacity: 50_000,
        confirmed: 30_000,
        remaining: 20_000,
      },
      {
        start_at: "2027-04-15T10:00:00.000Z",
        end_at: "2027-04-15T11:00:00.000Z",
        capacity: 50_000,
        confirmed: 0,
        remaining: 50_000,
      },
    ],
  },
});

export type AvailabilityQuery = z.infer<typeof AvailabilityQuery>;
