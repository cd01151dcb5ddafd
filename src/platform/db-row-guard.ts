import { Buffer } from "node:buffer";
import { build, message } from "./db-wire.ts";

/**
 * postgres.js 3.4 counts the rows of a result in one counter per connection and resets it only at CommandComplete
 * (porsager/postgres#1119, #1181, open upstream). A statement that fails after some of its rows arrived (a
 * statement_timeout on a long read, a division by zero in a late row) ends with ErrorResponse instead, so the
 * counter keeps its value and the next query on that connection resolves with that many empty places before its
 * own rows: `rows[0]` is undefined, and its answer is wrong. A transaction's ROLLBACK resets the counter, so it
 * strikes statements outside one, and pipelined queries.
 *
 * The guard hands the driver a CommandComplete ("SELECT 0") just before such an ErrorResponse: the counter is
 * reset, and the failing query still rejects with the server's error, since the driver settles a query at
 * ReadyForQuery. This relies on the driver's CommandComplete doing nothing else for a query that is not a cursor
 * or a COPY (the service uses neither). A connection lost while rows stream needs nothing: the driver's first
 * query on a new connection (its array types) takes the stale places and resets the counter (tests/driver.test.ts).
 */
// A Buffer, as every chunk the driver reads must be.
const endOfRows = Buffer.from(build(message.commandComplete, new TextEncoder().encode("SELECT 0\0")));

const endsAResult = new Set<number>([
  message.commandComplete,
  message.errorResponse,
  message.readyForQuery,
  message.emptyQuery,
  message.portalSuspended,
]);

/** Watches the backend's messages (`see` each start); `mend` cuts a scanned chunk where a result must be ended. */
export function rowGuard() {
  let inRows = false;
  let cuts: number[] = [];
  return {
    see(type: number, at: number) {
      if (type === message.dataRow) inRows = true;
      else if (endsAResult.has(type)) {
        if (type === message.errorResponse && inRows) cuts.push(at);
        inRows = false;
      }
    },
    /** The chunk as the driver must get it: the same bytes, with a CommandComplete before each cut. */
    mend(chunk: Uint8Array): Uint8Array[] {
      if (cuts.length === 0) return [chunk];
      const parts = [];
      let from = 0;
      for (const cut of cuts) parts.push(chunk.subarray(from, cut), endOfRows), from = cut;
      parts.push(chunk.subarray(from));
      cuts = [];
      return parts;
    },
  };
}
