import type postgres from "postgres";
import type { Deps } from "../deps.ts";
import { AppError } from "../http/problem.ts";
import type { Sql, Tx } from "../platform/db.ts";
import type { Caller, User, UserJson } from "./auth.schemas.ts";
import { findSessionUser, sessionUserJson } from "./auth.service.ts";
import type { Session } from "./tokens.ts";

/** The caller of a request whose access token checked out; their session's user is read once, when first needed. */
export class SessionCaller implements Caller {
  #user?: Promise<User>;
  #adminOnly = false;

  constructor(private readonly deps: Pick<Deps, "sql">, private readonly session: Session) {}

  get id(): number {
    return this.session.userId;
  }

  get user(): Promise<User> {
    return this.#user ??= this.#judged(findSessionUser(this.deps, this.session));
  }

  userQuery(sql: Sql | Tx) {
    return this.#user ? sql`NULL::json` : sessionUserJson(sql, this.session);
  }

  admits(sql: Sql | Tx, found: postgres.Fragment) {
    if (this.#user) return sql`true`;
    return this.#adminOnly ? sql`coalesce((${found}->>'is_admin')::boolean, false)` : sql`${found} IS NOT NULL`;
  }

  /** The route is an admin's: the user, however it is read, is refused with 403 unless an admin. */
  requireAdmin(): void {
    this.#adminOnly = true;
  }

  settle(found: UserJson | null): Promise<User> {
    return this.#user ??= this.#judged(
      Promise.resolve(found ? { ...found, date_joined: new Date(found.date_joined).toISOString() } : undefined),
    );
  }

  #judged(found: Promise<User | undefined>): Promise<User> {
    const user = found.then((user) => {
      if (!user) throw new AppError("UNAUTHENTICATED");
      if (this.#adminOnly && !user.is_admin) throw new AppError("FORBIDDEN", "Only an admin may do this");
      return user;
    });
    user.catch(() => {}); // the guard awaits it after the handler
    return user;
  }
}
