import { createRouter } from "../http/router.ts";
import * as handlers from "./reservations.handlers.ts";
import * as routes from "./reservations.routes.ts";

// The fixed paths (`export`, `confirm`) before `{id}`, which would otherwise take them as an id.
export const reservationsRouter = createRouter()
  .openapi(routes.create, handlers.create)
  .openapi(routes.list, handlers.list)
  .openapi(routes.exportCsv, handlers.exportCsv)
  .openapi(routes.confirmMany, handlers.confirmMany)
  .openapi(routes.get, handlers.get)
  .openapi(routes.update, handlers.update)
  .openapi(routes.remove, handlers.remove)
  .openapi(routes.confirm, handlers.confirm)
  .openapi(routes.reject, handlers.reject)
  .openapi(routes.history, handlers.history)
  .openapi(routes.audit, handlers.audit);
