type Handler = (request: Request, info: Deno.ServeHandlerInfo) => Response | Promise<Response>;

/**
 * Counts the requests being handled, so shutdown can wait for them before closing the server:
 * Deno's `server.shutdown()` cuts off request bodies still arriving, which fails a slow upload.
 */
export function trackInFlight(handler: Handler) {
  let count = 0;
  let onIdle: (() => void) | undefined;
  return {
    handler: async (request: Request, info: Deno.ServeHandlerInfo) => {
      count++;
      try {
        return await handler(request, info);
      } finally {
        if (--count === 0) onIdle?.();
      }
    },
    /** Resolves once no request is in flight, or after `timeoutMs` at the latest. */
    idle(timeoutMs: number): Promise<void> {
      if (count === 0) return Promise.resolve();
      return new Promise((resolve) => {
        const timer = setTimeout(resolve, timeoutMs);
        onIdle = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    },
  };
}
