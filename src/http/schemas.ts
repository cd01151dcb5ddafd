import { z } from "@hono/zod-openapi";

/** PostgreSQL's `integer`: ids above it never reach a query. */
const maxInt4 = 2_147_483_647;

/** A database id, from a path or a query string. */
export const DatabaseId = z.coerce.number().int().min(1).max(maxInt4);

export const IdParam = z.object({
  id: DatabaseId.openapi({ param: { name: "id", in: "path" }, example: 1 }),
});

/** An ISO 8601 instant with any offset (`2027-04-15T14:00:00+09:00`), as a Date. */
export const Instant = z.iso.datetime({ offset: true })
  .transform((text) => new Date(text))
  .refine((date) => !Number.isNaN(date.getTime()), "must be a valid instant")
  .openapi({ type: "string", format: "date-time", example: "2027-04-15T14:00:00+09:00" });

/** An instant in a response: always UTC with `Z`. */
export const Timestamp = z.iso.datetime().openapi({ example: "2027-04-15T05:00:00.000Z" });
