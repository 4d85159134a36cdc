// The chat's "New messages" mark and its times, DOM-free (a Node test drives it). A line is new
// when said after the newest line the guest saw and brought while they could not see it: the page
// hidden, or said before the page was back (a reload's history, a resume's replay). The guest's
// own lines are never new.

/**
 * One chat's seen-mark. `seenAt`: the server time (ms) of the newest line the guest has seen, kept
 * across a reload; null on a first visit, when everything said before the join is plain history.
 */
export class UnseenMark {
  constructor(seenAt) {
    this.seenAt = typeof seenAt === 'number' ? seenAt : null;
    this.liveSince = -Infinity; // server time the page's connection last became live
    this.divider = null; // the key of the line the "New messages" mark stands before
    this.placed = false; // the mark stands before the first new line since the last hide or return
  }

  /** Live again at `t` (the host's time of `welcome` / `resumed`): a line said before is from the past. */
  live(t) {
    this.liveSince = t;
    this.placed = false;
    if (this.seenAt == null) this.seenAt = t; // a first join: what was said before is history
  }

  /** The page was hidden: the next new line starts a new batch (the mark moves to it). */
  hide() {
    this.placed = false;
  }

  /** A line drawn for the first time: is it new? (The mark goes before the first of a batch.) */
  add(key, at, own, hidden) {
    const fresh = !own && typeof at === 'number' && this.seenAt != null && at > this.seenAt && (hidden || at < this.liveSince);
    if (fresh && !this.placed) {
      this.divider = key;
      this.placed = true;
    }
    return fresh;
  }

  /** A visible page has shown every line up to `newest`; true when `seenAt` moved (keep it). */
  shown(newest, hidden) {
    if (hidden || typeof newest !== 'number' || (this.seenAt != null && newest <= this.seenAt)) return false;
    this.seenAt = newest;
    return true;
  }

  /** The mark's line is gone (deleted from the kept lines): no mark. */
  forget(key) {
    if (this.divider === key) this.divider = null;
  }
}

/** A line's time as the guest's own clock shows it: "21:04" (or "9:04 PM" where that is the way). */
export function chatTime(at, locale) {
  if (typeof at !== 'number' || !Number.isFinite(at)) return '';
  return new Date(at).toLocaleTimeString(locale, { hour: 'numeric', minute: '2-digit' });
}
