// Rule protected: the phone and desktop pages say what a guest understands. A member row says
// nothing about a member who is simply here (a "connected" on every row says nothing) and words
// for the rest, never a raw protocol word; a phone that cannot play says "Can't play" and why
// when its media element knows, never a sync figure.
import test from 'node:test';
import { MEMBER_STATUS_TEXT, cannotPlayText, memberStatusText } from './texts.js';
import { eq } from './fakes.mjs';

/// A member row says nothing for a member simply here, and words, never the raw status, otherwise.
test('member status words: none for connected, words for the rest, never a raw word', () => {
  eq(memberStatusText('connected'), '', 'connected');
  eq(memberStatusText('reconnecting'), 'Reconnecting…', 'reconnecting');
  eq(memberStatusText('disconnected'), 'Left', 'disconnected');
  eq(memberStatusText('something_new'), '', 'an unknown status');
  eq(Object.values(MEMBER_STATUS_TEXT).filter((t) => /^[a-z_]+$/.test(t)), [], 'raw words among the texts');
});

/// A phone that cannot play: "Can't play" and why by the MediaError code, never a sync figure.
test('the sync badge of a phone that cannot play', () => {
  eq(cannotPlayText(4), "Can't play: this phone can't open this kind of file", 'not supported');
  eq(cannotPlayText(3), "Can't play: the file is damaged", 'decode');
  eq(cannotPlayText(2), "Can't play: the file didn't download", 'network');
  eq(cannotPlayText(undefined), "Can't play this file", 'unknown');
});
