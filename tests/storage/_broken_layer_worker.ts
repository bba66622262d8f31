// A layer Worker module that fails while loading (after a delay, so that the main thread has
// already read and held back data): the client must fall back to this thread with that data.
// Used by _worker_fallback_main.ts.
await new Promise((resolve) => setTimeout(resolve, 150));
throw new Error("this Worker module is broken on purpose");
