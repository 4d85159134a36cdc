// The host's HTTP API, as the page calls it (GET /api/info, GET /api/join).

/** How long a request may take: a host on the same Wi-Fi answers in milliseconds. */
const REQUEST_TIMEOUT_MS = 8000;

/** GET `url` → { status, body } (body: the parsed JSON, or null). Throws when unreachable or
 * after `ms` (default REQUEST_TIMEOUT_MS). `sent`: the Response of a fetch of `url` already
 * sent (boot.js's), read instead of asking again. */
export async function fetchJSON(url, ms = REQUEST_TIMEOUT_MS, sent = null) {
  const ctl = typeof AbortController === 'function' ? new AbortController() : null;
  const timer = setTimeout(() => ctl && ctl.abort(), ms);
  try {
    const asked = sent || fetch(url, { cache: 'no-store', signal: ctl ? ctl.signal : undefined });
    const res = await (sent ? Promise.race([asked, new Promise((_, fail) => ctl && ctl.signal.addEventListener('abort', () => fail(new Error('timed out'))))]) : asked);
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

/** How long the page waits, at most, before its one retry after a 429. */
const CODE_RETRY_CAP_MS = 30000;

/**
 * Trades a room code for the join key. The host may hold a try for its turn (up to
 * `info.roomCodeWaitMs`) before checking it; on 429 it says when to come back (`retryAfterMs`),
 * and the page tries once more by itself. `onWait(label)` tells the join screen what is going on.
 */
export async function tradeCode(code, info, onWait) {
  const ms = REQUEST_TIMEOUT_MS + (info && typeof info.roomCodeWaitMs === 'number' ? info.roomCodeWaitMs : 0);
  const url = '/api/join?code=' + encodeURIComponent(code);
  const r = await fetchJSON(url, ms);
  if (r.status !== 429) return r;
  const wait = Math.min(Math.max(Number(r.body && r.body.retryAfterMs) || 1000, 0), CODE_RETRY_CAP_MS);
  onWait('Checking… (busy, a few seconds)');
  await new Promise((res) => setTimeout(res, wait));
  onWait('Checking the code…');
  return fetchJSON(url, ms);
}
