// The host's library as a client reads it, a page at a time: `library.update` brings the first
// page and the total, `library.query` the next pages, a search, or the items of some ids (what
// plays, the queue); the host answers each query with one `library.page`, in order. DOM-free.

/** The list shown (`items`, `total`, `q`) and every item seen (`byId`). `send(query)` sends a
 * `library.query`'s fields and returns whether it went out. */
export class LibraryPager {
  constructor(send, pageItems = 100) {
    this.send = send;
    this.pageItems = pageItems;
    this.byId = new Map(); // every item seen, by id
    this.items = []; // the list shown: pages of the library, or of a search
    this.total = 0; // its length in all
    this.revision = null; // pages of another revision are stale
    this.q = ''; // the search shown
    this.pages = []; // queries not answered yet, oldest first
    this.asked = new Set(); // ids asked for
  }

  get(id) {
    return this.byId.get(id);
  }

  query(fields, kind) {
    if (this.send(fields)) this.pages.push({ kind, q: fields.q || '', offset: fields.offset || 0 });
  }

  /** A `library.update`: the library changed (or this client joined). */
  onUpdate(m) {
    const items = Array.isArray(m.items) ? m.items.filter((i) => i && i.id) : [];
    this.byId.clear();
    for (const it of items) this.byId.set(it.id, it);
    this.revision = m.revision;
    this.pages = [];
    this.asked.clear();
    if (this.q) return this.search(this.q, true);
    this.items = items;
    this.total = typeof m.total === 'number' ? m.total : items.length;
  }

  /** A `library.page`; returns whether it was taken (a stale or unasked one is not). */
  onPage(m) {
    const asked = this.pages.shift();
    if (!asked || m.revision !== this.revision) return false;
    const items = Array.isArray(m.items) ? m.items.filter((i) => i && i.id) : [];
    for (const it of items) this.byId.set(it.id, it);
    if (asked.kind === 'list' && asked.q === this.q) {
      if (asked.offset === 0) this.items = items;
      else if (asked.offset === this.items.length) this.items = this.items.concat(items);
      this.total = m.total;
    }
    return true;
  }

  /** Shows the items matching `q` (blank: all), from the first. */
  search(q, force) {
    q = String(q || '').trim();
    if (q === this.q && !force) return;
    this.q = q;
    this.items = [];
    this.total = 0;
    this.query({ q: q || undefined }, 'list');
  }

  /** The next page of the list shown (one at a time). */
  more() {
    if (this.items.length >= this.total || this.pages.some((p) => p.kind === 'list')) return;
    this.query({ q: this.q || undefined, offset: this.items.length }, 'list');
  }

  /** Asks, once, for the items of these ids not known yet. */
  want(ids) {
    const missing = [...new Set(ids)].filter((id) => id && !this.byId.has(id) && !this.asked.has(id)).slice(0, this.pageItems);
    if (!missing.length) return;
    for (const id of missing) this.asked.add(id);
    this.query({ ids: missing }, 'ids');
  }
}
