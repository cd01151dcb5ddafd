// A receiver of the service's webhooks (docs/webhooks.md): it verifies every delivery with the standardwebhooks
// package (`deno add npm:standardwebhooks`, or `npm install standardwebhooks`) before trusting any of it.
//   WEBHOOK_SECRET=whsec_… PORT=3000 deno run --allow-net --allow-env docs/examples/webhook-receiver.ts
import { Webhook, WebhookVerificationError } from "standardwebhooks";

/** What a delivery's body holds once verified. */
export type Delivery = {
  type: string;
  timestamp: string;
  data: { reservation: { id: number; status: string }; changes: Record<string, [unknown, unknown]>; actor_id: number };
};

/**
 * A request handler that answers 204 once `handle` took the delivery, and 400 to anything not signed with `secret`
 * within the last five minutes (a tampered body, another secret, a replayed old delivery). A delivery can come more
 * than once (a retry after a lost answer): its `webhook-id` is the same, so keep the ids you have handled.
 */
export function webhookReceiver(secret: string, handle: (id: string, delivery: Delivery) => Promise<void> | void) {
  const webhook = new Webhook(secret);
  return async (request: Request): Promise<Response> => {
    const body = await request.text();
    let delivery: Delivery;
    try {
      delivery = webhook.verify(body, Object.fromEntries(request.headers)) as Delivery;
    } catch (error) {
      if (error instanceof WebhookVerificationError) return new Response(error.message, { status: 400 });
      throw error;
    }
    await handle(request.headers.get("webhook-id")!, delivery);
    return new Response(null, { status: 204 });
  };
}

if (import.meta.main) {
  const receive = webhookReceiver(Deno.env.get("WEBHOOK_SECRET")!, (id, { type, data }) => {
    console.log(`${id} ${type}: reservation ${data.reservation.id} is ${data.reservation.status}`);
  });
  Deno.serve({ port: Number(Deno.env.get("PORT") ?? 3000) }, receive);
}
