// Rule protected: the browser speaks the host's contract, counted the host's way. Every server
// message type (wire.js, generated from the Rust side) has an entry in the client's one dispatch
// table, dotted types included; and text is cut by code points, as Rust counts characters, so a
// line that ends in an emoji at the limit goes out whole (cut by UTF-16 units it kept half the
// emoji, and the host refused the lone surrogate as invalid_message).
import test from 'node:test';
import { MESSAGE_HANDLERS } from './client.js';
import { eq, ok, setup, serveJoin } from './fakes.mjs';
import { charCount, clip } from './text.js';
import { LIMITS, SERVER_TYPES } from './wire.js';

const sentOf = (ws, type) => ws.sent.filter((m) => m.type === type);
const loneSurrogate = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/** Every type the host sends has a handler in the one table (a Map), dotted ones too. */
test('every server message type is in the dispatch table', () => {
  ok(MESSAGE_HANDLERS instanceof Map, 'MESSAGE_HANDLERS is a Map');
  eq(SERVER_TYPES.filter((t) => !MESSAGE_HANDLERS.has(t)), [], 'server types without a handler');
  eq([...MESSAGE_HANDLERS.keys()].filter((t) => !SERVER_TYPES.includes(t)), [], 'handlers for types the host never sends');
  ok(SERVER_TYPES.includes('syncplay.state'), 'a dotted type is listed');
});

/** A chat line of exactly the limit, ending in an emoji, goes out whole. */
test('chat: an emoji at the limit is one character, sent whole', () => {
  const { client, last } = setup();
  client.connect();
  serveJoin(last());
  const text = 'a'.repeat(LIMITS.maxChatChars - 1) + '🎉';
  eq([text.length, charCount(text)], [LIMITS.maxChatChars + 1, LIMITS.maxChatChars], 'UTF-16 units and code points');
  ok(client.sendChat(text), 'sendChat');
  eq(sentOf(last(), 'chat').map((m) => m.text === text), [true], 'sent the line unchanged');
});

/** Past the limit, text is cut to the limit in code points, never inside an emoji. */
test('chat, direct and presence are cut by code points', () => {
  const { client, last } = setup();
  client.connect();
  serveJoin(last());
  const long = '🎉'.repeat(LIMITS.maxChatChars + 5);
  ok(client.sendChat(long), 'sendChat');
  ok(client.sendDirect('m-2', long), 'sendDirect');
  ok(client.setPresence('away', '🙂'.repeat(LIMITS.maxPresenceChars + 3)), 'setPresence');
  const [chat] = sentOf(last(), 'chat');
  const [direct] = sentOf(last(), 'direct');
  const [presence] = sentOf(last(), 'presence');
  eq(charCount(chat.text), LIMITS.maxChatChars, 'chat text code points');
  eq(charCount(direct.payload.text), LIMITS.maxChatChars, 'direct text code points');
  eq(charCount(presence.text), LIMITS.maxPresenceChars, 'presence text code points');
  eq([chat.text, direct.payload.text, presence.text].filter((t) => loneSurrogate.test(t)).length, 0, 'texts with half an emoji');
});

/** clip() leaves short text alone and never splits a surrogate pair. */
test('clip', () => {
  eq(clip('abc', 3), 'abc', 'at the limit');
  eq(clip('ab🎉', 3), 'ab🎉', 'an emoji is one');
  eq(clip('ab🎉c', 3), 'ab🎉', 'cut after the emoji');
  eq(clip('🎉🎉', 1), '🎉', 'cut between emoji');
});
