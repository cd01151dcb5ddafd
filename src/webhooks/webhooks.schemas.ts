import { z } from "@hono/zod-openapi";
import { pageOf } from "../http/pagination.ts";
import { Timestamp } from "../http/schemas.ts";

/** Every event type of the contract, each the history action after `reservation.`. */
export const eventTypes = [
  "reservation.created",
  "reservation.changed",
  "reservation.confirmed",
  "reservation.rejected",
  "reservation.deleted",
  "reservation.released",
] as const;

export const EventType = z.enum(eventTypes);
export type EventType = z.infer<typeof EventType>;

const prefix = "reservation.";
/** `confirmed` → `reservation.confirmed`. */
export const typeOf = (action: string) => `${prefix}${action}` as EventType;
/** `reservation.confirmed` → `confirmed`. */
export const actionOf = (type: EventType) => type.slice(prefix.length);

export const maxWebhooksPerUser = 5;

/** Only `url` and `events` are read; `events` comes back in the contract's order, each once. */
export const WebhookInputSchema = z.object({
  url: z.url({ protocol: /^https?$/, error: "must be an http:// or https:// URL" }).max(2048),
  events: z.array(EventType).min(1).max(50).optional()
    .transform((events) => eventTypes.filter((type) => !events || events.includes(type)))
    .openapi({ description: "Default: every type" }),
}).openapi("WebhookInput", {
  example: { url: "https://hooks.example.com/exam-slots", events: ["reservation.confirmed", "reservation.rejected"] },
});

export const WebhookSchema = z.object({
  id: z.number().int().openapi({ example: 3 }),
  url: z.string().openapi({ example: "https://hooks.example.com/exam-slots" }),
  events: z.array(EventType),
  created_at: Timestamp,
}).openapi("Webhook");

export const CreatedWebhookSchema = WebhookSchema.extend({
  secret: z.string().openapi({
    description: "`whsec_` + base64 of 32 random bytes, to verify signatures with; shown only in this response",
    example: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw6ZfB3xWUYb8=",
  }),
}).openapi("CreatedWebhook");

export const WebhookPageSchema = pageOf(WebhookSchema, "WebhookPage");

export const DeliveryState = z.enum(["pending", "delivered", "failed"]);

export const DeliveryAttemptSchema = z.object({
  event_id: z.number().int().openapi({ example: 7, description: "The history event, and the webhook-id header" }),
  type: EventType,
  attempt: z.number().int().openapi({ example: 1 }),
  at: Timestamp,
  status_code: z.number().int().nullable().openapi({ example: 503, description: "The receiver's answer, if any" }),
  error: z.string().nullable().openapi({ example: null, description: "Why no 2xx came, when no status says it" }),
  next_attempt_at: Timestamp.nullable().openapi({ description: "When it is tried again, while pending" }),
  state: DeliveryState.openapi({ description: "The delivery's state after this attempt" }),
}).openapi("WebhookDeliveryAttempt");

export const DeliveryAttemptPageSchema = pageOf(DeliveryAttemptSchema, "WebhookDeliveryAttemptPage");

export type WebhookInput = z.infer<typeof WebhookInputSchema>;
export type Webhook = z.infer<typeof WebhookSchema>;
export type DeliveryAttempt = z.infer<typeof DeliveryAttemptSchema>;
