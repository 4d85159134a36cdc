// The host's HTTP API, as the page calls it (GET /api/info, GET /api/join).

/** How long a request may take: a host on the same Wi-Fi answers in milliseconds. */
const REQUEST_TIMEOUT_MS = 8000;

/** GET `url` → { status, body } (body: the parsed JSON, or null). Throws when unreachable. */
export async function fetchJSON(url) {
  const ctl = typeof AbortController === 'function' ? new AbortController() : null;
  const timer = setTimeout(() => ctl && ctl.abort(), REQUEST_TIMEOUT_MS);
  try {
    const res = await fetch(url, { cache: 'no-store', signal: ctl ? ctl.signal : undefined });
    let body = null;
    try {
      body = await res.json();
    } catch (e) {
      body = null;
    }
    return { status: res.status, body };
  } finally {
    clearTimeout(timer);
  }
}
