// Partyline phone page, the entry module: it loads the screens' modules and boots. DOM
// rendering and browser glue only; the protocol is ../shared/client.js.
//
//   boot.js        (a classic script written into the page, not a module) the join screen from
//                  the facts the host writes into the page, a reload's socket, /api/info at once
//   connection.js  takes over from boot.js, the party's modules fetched behind the join screen, waking up
//   join.js        the join screen and the room code (with connection.js, all the join screen needs)
//   live.js        the PartylineClient, what it persists (imported later, by connection.js)
//   party.js       the party screen's header and the guest's card; draws the parts below
//   members.js     the people, notes.js the host's notifications, presence.js the guest's own,
//   dm.js          private messages, chat.js the chat, endings.js the ending screen
//   player.js      SyncPlay's playback engine; now-playing.js its panel; unlock.js sound unlock
//   share.js       "Add a song" / "Share a photo" (uploads); photos.js the photos guests shared
//   page.js        the shared state (info, client) and screens; store.js storage; api.js HTTP
import { boot } from './connection.js';

// ---- debug: ?theme=dark|light forces a color scheme (for screenshots) -------------------------
const query = new URLSearchParams(location.search);
if (/^(dark|light)$/.test(query.get('theme') || '')) document.documentElement.dataset.theme = query.get('theme');

boot();
