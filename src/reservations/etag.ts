import { AppError } from "../http/problem.ts";

// A reservation's ETag is built by the database with its body (reservation_etag, migrations/definitions).

/** `If-Match` / `If-None-Match`: `*` or a list of ETags; weak ones match only when `weak` comparison is asked. */
function matches(header: string, etag: string, { weak }: { weak: boolean }): boolean {
  return header.split(",").map((tag) => tag.trim()).some((tag) =>
    tag === "*" || tag === etag || (weak && tag.replace(/^W\//, "") === etag)
  );
}

/** A write with `If-Match` goes ahead only on the reservation as the client last saw it: else 412, nothing changed. */
export function assertIfMatch(ifMatch: string | undefined, etag: string): void {
  if (ifMatch !== undefined && !matches(ifMatch, etag, { weak: false })) {
    throw new AppError("PRECONDITION_FAILED", "The reservation changed since this ETag: read it again");
  }
}

/** `If-None-Match` on a read: true when the client's copy is current (304). */
export const notModified = (ifNoneMatch: string | undefined, etag: string) =>
  ifNoneMatch !== undefined && matches(ifNoneMatch, etag, { weak: true });
