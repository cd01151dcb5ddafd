/**
 * The API's client for TypeScript callers: Hono's `hc` typed by the app itself, so every path, parameter, body and
 * response (problem documents included) is checked by the compiler. The server is imported for its types only:
 * nothing of it runs in, or is bundled with, a caller. From another Deno project it is `@exam-slots/api/client`,
 * through `links` in that project's deno.json (docs/getting-started.md, "The typed client from another project").
 *
 * ```ts
 * const api = createClient("http://localhost:8000", { token: access }).api.v1;
 * const res = await api.reservations.$post({ json: { start_at, end_at, headcount: 1200 } });
 * if (res.status === 201) console.log((await res.json()).id);
 * ```
 */
import { type ClientRequestOptions, hc } from "hono/client";
import type { AppType } from "./src/app.ts";

export type { AppType };
export type { Problem } from "./src/http/problem.ts";
export type { User } from "./src/auth/auth.schemas.ts";
export type { Reservation } from "./src/reservations/reservations.schemas.ts";

/** Hono's request options, and the access token every request should carry (a new one needs a new client). */
export type ClientOptions = Omit<ClientRequestOptions, "headers"> & { token?: string };

export function createClient(baseUrl: string, { token, ...options }: ClientOptions = {}) {
  return hc<AppType>(baseUrl, { ...options, headers: token ? { Authorization: `Bearer ${token}` } : {} });
}

export type Client = ReturnType<typeof createClient>;
