// Rule protected: a phone reaches the whole library however large, a page at a time, and never
// mixes pages of an old library (or an old search) into the list it shows. LibraryPager against
// a fake host that answers library.query as crates/session/src/library.rs does.
//   node --test ui/shared/library.test.mjs
import test from 'node:test';
import { LibraryPager } from './library.js';
import { eq, ok } from './fakes.mjs';

const item = (n, artist) => ({ id: 't-' + n, title: 'Song ' + String(n).padStart(4, '0'), mime: 'audio/mpeg', url: '/media/' + n + '.mp3', size: 1, artist });

/** A host with `n` items: it answers each sent query (in order) when the test calls `answer()`. */
function host(n, pageItems = 100) {
  const items = Array.from({ length: n }, (_, i) => item(i, i === 1234 ? 'ABBA' : undefined));
  const sent = [];
  const h = { items, sent, revision: 1 };
  h.update = () => ({ type: 'library.update', revision: h.revision, total: h.items.length, items: h.items.slice(0, pageItems) });
  h.answer = (pager) => {
    const q = sent.shift();
    let found = h.items;
    if (q.ids) found = h.items.filter((i) => q.ids.includes(i.id));
    else if (q.q) {
      const words = q.q.toLowerCase().split(/\s+/).filter(Boolean);
      found = h.items.filter((i) => words.every((w) => (i.title + '\n' + (i.artist || '')).toLowerCase().includes(w)));
    }
    const page = q.ids ? found : found.slice(q.offset || 0, (q.offset || 0) + pageItems);
    return pager.onPage({ type: 'library.page', revision: h.revision, q: q.q, offset: q.ids ? 0 : q.offset || 0, total: found.length, items: page });
  };
  return h;
}

/** "Show more" from the update's first page reaches all 2,000 items, each once, in order. */
test('more reaches every item of a 2,000-item library', () => {
  const h = host(2000);
  const pager = new LibraryPager((q) => h.sent.push(q));
  pager.onUpdate(h.update());
  eq([pager.items.length, pager.total], [100, 2000], 'the first page and the total');
  while (pager.items.length < pager.total) {
    pager.more();
    pager.more(); // a second tap while one page is on its way asks nothing more
    eq(h.sent.length, 1, 'one query on its way');
    ok(h.answer(pager), 'the page is taken');
  }
  eq(pager.items.map((i) => i.id), h.items.map((i) => i.id), 'every item once, in order');
  pager.more();
  eq(h.sent.length, 0, 'nothing more to ask for');
});

/** A search shows its own matches; a page of an older search, or of an older library, is dropped. */
test('searches, and stale pages', () => {
  const h = host(2000);
  const pager = new LibraryPager((q) => h.sent.push(q));
  pager.onUpdate(h.update());
  pager.search('abba');
  eq(h.sent, [{ q: 'abba' }], 'the query sent');
  h.answer(pager);
  eq([pager.total, pager.items.map((i) => i.title)], [1, ['Song 1234']], 'found by artist');
  pager.search('song 1999');
  h.revision = 2; // the host shared another folder before answering
  ok(!h.answer(pager), 'a page of another revision is not taken');
  eq(pager.items, [], 'and shows nothing of it');
  pager.onUpdate(h.update());
  eq(h.sent, [{ q: 'song 1999' }], 'a new library runs the search shown again');
  h.answer(pager);
  eq(pager.items.map((i) => i.id), ['t-1999'], 'the search in the new library');
  pager.search('');
  h.answer(pager);
  eq([pager.q, pager.items.length, pager.total], ['', 100, 2000], 'a blank search is the whole library');
});

/** Items the list has no page with (what plays, the queue) are asked for by id, once each. */
test('ids are asked for once', () => {
  const h = host(500);
  const pager = new LibraryPager((q) => h.sent.push(q));
  pager.onUpdate(h.update());
  pager.want(['t-5', 't-420', 't-420', 't-499']);
  eq(h.sent, [{ ids: ['t-420', 't-499'] }], 'only the unknown ones, once');
  pager.want(['t-420']);
  eq(h.sent.length, 1, 'not asked again while on its way');
  h.answer(pager);
  eq([pager.get('t-420').title, pager.items.length], ['Song 0420', 100], 'known now; the list shown is unchanged');
});
