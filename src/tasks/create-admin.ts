import { parseArgs } from "node:util";
import { bootstrap } from "../bootstrap.ts";
import { fitsBcrypt } from "../platform/bcrypt-limit.ts";
import { ensureAdmin } from "../users/users.service.ts";

const { values } = parseArgs({ args: Deno.args, options: { email: { type: "string" }, password: { type: "string" } } });
const { email, password } = values;
if (!email || !password || password.length < 8 || !fitsBcrypt(password)) {
  console.error("usage: deno task create-admin --email EMAIL --password PASSWORD (8 characters to 72 bytes)");
  Deno.exit(2);
}
const { config, database } = await bootstrap();
const admin = await ensureAdmin(database, { email, password, cost: config.BCRYPT_COST });
await database.close();
if (admin.outcome === "squatted") {
  console.error(
    `refused: ${email} belongs to a non-admin account whose password is not the one given; ` +
      "it is not promoted (log in as that account, or choose another email)",
  );
  Deno.exit(1);
}
console.error(`admin ${admin.outcome}: ${admin.user.email} (id ${admin.user.id})`);
