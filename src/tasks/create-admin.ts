import { parseArgs } from "node:util";
import { bootstrap } from "../bootstrap.ts";
import { hashPassword } from "../auth/passwords.ts";
import { ensureAdmin } from "../users/users.service.ts";
import { systemClock } from "../platform/clock.ts";

const { values } = parseArgs({ args: Deno.args, options: { email: { type: "string" }, password: { type: "string" } } });
if (!values.email || !values.password || values.password.length < 8) {
  console.error("usage: deno task create-admin --email EMAIL --password PASSWORD (at least 8 characters)");
  Deno.exit(2);
}
const { config, database } = await bootstrap();
const password = values.password;
const admin = await ensureAdmin(
  { sql: database.sql, clock: systemClock },
  values.email,
  () => hashPassword(password, config.BCRYPT_COST),
);
await database.close();
console.error(`admin ready: ${admin.email} (id ${admin.id})`);
