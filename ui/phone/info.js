// GET /api/info, asked for the moment this module arrives. The page loads it first, as an `async`
// module script of its own with no imports (it runs as soon as it is fetched, not after the
// page's other modules), and connection.js imports it (the same module, run once). So the
// request goes out while the other modules are still on their way, a round trip or more sooner
// on a slow Wi-Fi. api.js's fetchJSON does the asking again when the page boots a second time.

/** The first /api/info of this page load: the Response, or a rejection when unreachable. */
export const firstInfo = fetch('/api/info', { cache: 'no-store' });
firstInfo.catch(() => {}); // handled where it is used; never an unhandled rejection
