import { apiBase } from "../src/app.ts";

/** A path under the API's base: `api("/users/me/")` is `/api/v1/users/me/`. */
export const api = (path: string) => `${apiBase}${path}`;
