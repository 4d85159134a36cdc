// Rule protected: the phone's chat marks what a guest has not seen, and only that. A line is new
// when it was said after the last line the guest saw and reached the page while they could not
// see it (the page hidden, or brought by a reload's history or a resume's replay); a line said
// while they watch, their own lines and a first join's history are never new; "New messages"
// stands before the first new line, and moves only for a new batch. Each line shows its time.
import test from 'node:test';
import { UnseenMark, chatTime } from '../phone/unseen.js';
import { eq } from './fakes.mjs';

/** Lines as the chat draws them: [key, at (server ms), own]; returns the keys marked new. */
function draw(mark, lines, hidden) {
  const fresh = lines.filter(([key, at, own]) => mark.add(key, at, own, hidden)).map(([key]) => key);
  mark.shown(Math.max(...lines.map(([, at]) => at)), hidden);
  return fresh;
}

/// A first join: the history said before it is not new, nor is what is said while the guest watches.
test('a first join marks nothing: history and lines said while watching are seen', () => {
  const mark = new UnseenMark(null);
  mark.live(1000);
  eq(draw(mark, [['a', 500, false], ['b', 900, false]], false), [], 'the history at the join');
  eq(draw(mark, [['c', 1200, false]], false), [], 'a line said while the page is visible');
  eq(mark.divider, null, 'no "New messages" mark');
});

/// After a reload, the lines said since the last one seen are new, the mark before the first.
test('a reload: lines after the last seen are new; own lines and older ones are not', () => {
  const mark = new UnseenMark(2000); // kept in sessionStorage before the reload
  mark.live(5000); // the resumed page's welcome
  const fresh = draw(mark, [['a', 1500, false], ['b', 2000, false], ['c', 2500, true], ['d', 3000, false], ['e', 4000, false]], false);
  eq(fresh, ['d', 'e'], 'new lines');
  eq(mark.divider, 'd', 'the mark stands before the first new line');
  eq(mark.seenAt, 4000, 'now seen up to the newest');
  eq(draw(mark, [['f', 6000, false]], false), [], 'a line said after the return, while watching');
  eq(mark.divider, 'd', 'the mark stays where it was');
});

/// A resume's replay comes a line at a time: the mark stays before the first of them.
test('a replay a line at a time keeps the mark on its first line', () => {
  const mark = new UnseenMark(1000);
  mark.live(9000);
  eq(draw(mark, [['a', 2000, false]], false), ['a'], 'first replayed line');
  eq(draw(mark, [['b', 3000, false]], false), ['b'], 'second replayed line, also new');
  eq(mark.divider, 'a', 'the mark before the first');
});

/// A hidden page: what comes meanwhile is new; the next hidden spell moves the mark to its own lines.
test('lines that come while the page is hidden are new; a later hidden spell moves the mark', () => {
  const mark = new UnseenMark(null);
  mark.live(1000);
  draw(mark, [['a', 1100, false]], false);
  mark.hide();
  eq(draw(mark, [['b', 1200, false], ['c', 1300, true]], true), ['b'], 'said while hidden (own line excepted)');
  eq(draw(mark, [['d', 1400, false]], true), ['d'], 'still hidden');
  eq(mark.divider, 'b', 'the mark before the first');
  eq(mark.seenAt, 1100, 'a hidden page has not seen them');
  eq(draw(mark, [['e', 1500, false]], false), [], 'visible again: a line said now is seen');
  eq(mark.seenAt, 1500, 'seen up to the newest once visible');
  mark.hide();
  eq(draw(mark, [['f', 1600, false]], true), ['f'], 'the next hidden spell');
  eq(mark.divider, 'f', 'the mark moves to the new batch');
  mark.forget('f');
  eq(mark.divider, null, 'its line gone, no mark');
});

/// A line's time: short and local, from the host's timestamp; nothing without one.
test('chatTime: hours and minutes in the local zone, nothing without a time', () => {
  const at = new Date(2026, 11, 1, 21, 4, 59).getTime(); // local time
  eq(chatTime(at, 'en-GB'), '21:04', 'en-GB');
  eq(chatTime(at, 'en-US').replace(/\s/g, ' '), '9:04 PM', 'en-US (ICU may put a narrow space before PM)');
  eq(chatTime(undefined, 'en-GB'), '', 'no timestamp');
});
