import { stringify } from "csv-stringify/sync";
import type { Caller } from "../auth/auth.schemas.ts";
import type { ServiceDeps } from "./reservation.ts";
import { orderBy, visibleMatching } from "./reservations.service.ts";
import type { ReservationFilters } from "./reservations.schemas.ts";

const columns = [
  "id",
  "user_id",
  "username",
  "email",
  "start_at",
  "end_at",
  "headcount",
  "status",
  "created_at",
  "confirmed_at",
  "rejected_at",
  "reject_reason",
];

/** Rows read from the database at a time: what the export holds in memory, however many rows match. */
const batchRows = 500;

/**
 * RFC 4180: CRLF between records, a field with a comma, a quote or a line break quoted (quotes doubled). A cell that
 * a spreadsheet would read as a formula (`=`, `+`, `-`, `@`, tab, carriage return first) gets a `'` in front.
 */
const csv = (records: unknown[][]) =>
  new TextEncoder().encode(
    stringify(records, { record_delimiter: "windows", escape_formulas: true, quoted_match: /[\r\n]/ }),
  );

/**
 * Where a batch ends in the ordering: its last row's sort column, exactly as stored (as text: postgres.js would send a
 * timestamptz parameter through a Date, to the millisecond), and id.
 */
type Mark = { at: string; id: number };

/**
 * Every reservation the list would show the caller, with its owner's username and email, as CSV in the list's
 * ordering, streamed: a batch is read, with a statement of its own, only when the client has taken the one before
 * (keyset pagination on the ordering's column and id), so memory stays flat, no connection is held while a slow
 * client reads, and no statement outlives the statement timeout. The caller's session is checked, and the first batch
 * read, before the response starts, in one round trip. Rows that change during a long export are seen as they are
 * when their batch is read.
 */
export async function exportReservations({ sql }: ServiceDeps, caller: Caller, filters: ReservationFilters) {
  const [column, descending] = [filters.ordering.replace("-", ""), filters.ordering.startsWith("-")];
  const sortColumn = sql(column);
  const batch = (after: Mark | undefined) => {
    const past = after
      ? sql`AND (r.${sortColumn}, r.id) ${
        sql.unsafe(descending ? "<" : ">")
      } (${after.at}::text::timestamptz, ${after.id})`
      : sql``;
    return sql`
      SELECT r.id, r.user_id, u.username, u.email, api_instant(r.start_at), api_instant(r.end_at), r.headcount,
        r.status, api_instant(r.created_at), api_instant(r.confirmed_at), api_instant(r.rejected_at), r.reject_reason,
        r.${sortColumn}::text AS mark
      FROM reservations r JOIN users u ON u.id = r.user_id
      WHERE ${visibleMatching(sql, caller, filters)} ${past}
      ${orderBy(sql, filters.ordering, "r")}
      LIMIT ${batchRows}`.values();
  };
  let rows: unknown[][] = (await Promise.all([caller.user, batch(undefined)]))[1];
  return new ReadableStream<Uint8Array>({
    start(controller) {
      controller.enqueue(csv([columns]));
    },
    async pull(controller) {
      if (rows.length === 0) return controller.close();
      const last = rows.at(-1)!;
      controller.enqueue(csv(rows.map((row) => row.slice(0, columns.length))));
      rows = rows.length < batchRows ? [] : await batch({ at: last[columns.length] as string, id: last[0] as number });
    },
  });
}
