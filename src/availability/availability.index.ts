import { createRouter } from "../http/router.ts";
import * as handlers from "./availability.handlers.ts";
import * as routes from "./availability.routes.ts";

export const availabilityRouter = createRouter().openapi(routes.availability, handlers.availability);
