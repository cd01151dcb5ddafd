import { z } from "@hono/zod-openapi";
import type postgres from "postgres";
import type { Sql } from "../platform/db.ts";

export const maxPageSize = 100;

export const PageQuery = z.object({
  page: z.coerce.number().int().min(1).default(1).openapi({ example: 1 }),
  page_size: z.coerce.number().int().min(1).default(20).transform((n) => Math.min(n, maxPageSize))
    .openapi({ example: 20, description: `Clamped to ${maxPageSize}` }),
});

export type Page = { page: number; page_size: number };

export function pageOf<T extends z.ZodType>(item: T, name: string) {
  return z.object({
    count: z.number().int(),
    next: z.string().url().nullable(),
    previous: z.string().url().nullable(),
    results: z.array(item),
  }).openapi(name);
}

const offsetOf = ({ page, page_size }: Page) => (page - 1) * page_size;

/** DRF's envelope: next/previous are absolute URLs of the same query with another page. */
export function paginated<T>(requestUrl: string, { page, page_size }: Page, count: number, results: T[]) {
  const linkTo = (target: number) => {
    const url = new URL(requestUrl);
    url.searchParams.set("page", String(target));
    url.searchParams.set("page_size", String(page_size));
    return url.toString();
  };
  const last = Math.max(1, Math.ceil(count / page_size));
  return {
    count,
    next: page < last ? linkTo(page + 1) : null,
    previous: page > 1 ? linkTo(Math.min(page - 1, last)) : null,
    results,
  };
}

/**
 * One page of `query` with the total count of its rows, in one statement: every row carries `total`, and a page past
 * the end is one row of nulls that still carries it (the caller drops rows whose `id` is null). `columns` picks what
 * each row of the page (`p`) answers with; by default all of it.
 */
export function withTotal(
  sql: Sql,
  query: postgres.Fragment,
  order: postgres.Fragment,
  page: Page,
  columns: postgres.Fragment = sql`p.*`,
) {
  return sql`
    WITH matching AS (${query})
    SELECT ${columns}, t.total FROM (SELECT count(*)::int AS total FROM matching) t
    LEFT JOIN LATERAL (SELECT * FROM matching ${order} LIMIT ${page.page_size} OFFSET ${offsetOf(page)}) p ON true
    ${order}`;
}
