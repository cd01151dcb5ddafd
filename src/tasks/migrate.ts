import { bootstrap } from "../bootstrap.ts";

// bootstrap() applies pending migrations; this task only has to close the connection afterwards.
const { database } = await bootstrap();
await database.close();
console.error("migrations are up to date");
