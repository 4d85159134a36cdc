// The page's first script. The host's build writes it into the page (crates/server/build.rs),
// so it runs the moment the page has arrived, before any module: on a slow Wi-Fi the modules
// are still on their way. A classic script without imports: what it shares with the modules it
// spells out itself (store.js's storage keys, live.js's socket URL and client.js's resume in it),
// and ui/phone/boot.test.mjs checks that they agree.
//
// - The party's facts, which the host writes into the page (`#party-facts`, the stable part of
//   GET /api/info): the join screen is drawn from them at once, with the party's name, and with
//   the room-code field when the page has no join key.
// - A tap on "Join" before the modules are here is held ("Joining…"); connection.js takes it
//   when they arrive (`take()`).
// - A reload holding this party's resume credentials opens its socket at once, the resume in
//   its URL, so that the host answers right after the upgrade, and asks for the same resume
//   over the page's own connection (GET /api/resume), which the host answers a round trip
//   sooner; the socket then carries on that connection (`earlySocket`). live.js hands the
//   socket, and what it has received meanwhile, to the PartylineClient.
// - GET /api/info (the head count) goes out at once (behind the resume on a reload).
//
// It runs in the page's head (the socket and the request leave before the rest of the page is
// read); `draw()`, called by a one-line script after the join screen's elements, draws it.
// Everything it finds is `window.partylineBoot`: { facts, info, socket, tapped, take, draw }.
(function () {
  'use strict';
  var KEYS = { name: 'partyline.name', key: 'partyline.joinKey', resume: 'partyline.resume' };
  var boot = { facts: null, info: null, socket: null, tapped: false, take: null, draw: function () {} };
  window.partylineBoot = boot;

  function get(storage, key) {
    try {
      return window[storage].getItem(key);
    } catch (e) {
      return null; // storage refused (a private window, a setting): as if empty
    }
  }
  function byId(id) {
    return document.getElementById(id);
  }

  try {
    boot.facts = JSON.parse(byId('party-facts').textContent);
  } catch (e) {
    return; // a page without facts: the modules find their way as before
  }
  var facts = boot.facts;
  function askInfo() {
    try {
      boot.info = fetch('/api/info', { cache: 'no-store' });
      boot.info.catch(function () {}); // handled where it is used
    } catch (e) {
      boot.info = null;
    }
  }

  var hashKey = new URLSearchParams(location.hash.replace(/^#/, '')).get('k');
  var key = hashKey || get('sessionStorage', KEYS.key);
  var access = !!facts.open || !!key;
  var saved = null;
  try {
    saved = JSON.parse(get('sessionStorage', KEYS.resume) || 'null');
  } catch (e) {
    saved = null;
  }

  if (saved && saved.sessionId === facts.sessionId && saved.memberId && saved.resumeSecret && access) {
    // A reload: straight back in. The page stays on "Finding the party…" until the client draws.
    var url = resumeUrl(socketUrl(facts.open ? null : key), saved, 0);
    var record = { url: url, ws: null, events: [] };
    try {
      record.ws = earlySocket(url, nonce());
    } catch (e) {
      askInfo();
      return;
    }
    record.ws.onopen = function () {
      record.events.push({ type: 'open' });
    };
    record.ws.onmessage = function (e) {
      record.events.push({ type: 'message', data: e.data });
    };
    record.ws.onclose = function (e) {
      record.events.push({ type: 'close', code: e.code, reason: e.reason });
    };
    record.ws.onerror = function () {};
    boot.socket = record;
    askInfo(); // behind the resume: the page's own connection is the resume's
    return;
  }
  askInfo();

  // The join screen, at once (`draw`, once its elements are parsed). join.js's showJoin draws it
  // again, whole, when it arrives.
  boot.draw = function () {
    boot.draw = function () {};
    byId('join-title').textContent = facts.name || 'the party';
    if (facts.locked) {
      byId('join-notice').textContent = "The host has locked the party: new guests can't join right now.";
      byId('join-notice').hidden = false;
    }
    byId('code-field').hidden = access;
    var input = byId('name-input');
    if (!input.value) input.value = get('localStorage', KEYS.name) || '';
    byId('screen-loading').hidden = true;
    byId('screen-join').hidden = false;
    document.body.dataset.screen = 'screen-join';

    var form = byId('join-form');
    var button = byId('join-button');
    function hold(e) {
      e.preventDefault();
      boot.tapped = true;
      button.disabled = true;
      button.textContent = 'Joining…';
    }
    form.addEventListener('submit', hold);
    boot.take = function () {
      form.removeEventListener('submit', hold);
      boot.take = null;
      var tapped = boot.tapped;
      boot.tapped = false;
      return tapped;
    };
  };

  /**
   * The reload's socket, opened at once at `url` with `attach`, its resume asked for at once
   * too over the page's own connection (GET /api/resume, the same query): that answer comes a
   * round trip before the socket's could (a new connection, then its upgrade), and the socket
   * then carries on the connection the host made for it (docs/protocol.md, "A reload's resume
   * over HTTP"). To the PartylineClient it is one socket: an `open` and the answer's frames,
   * then the socket's own; what it sends before the socket is open waits for it. Without an
   * answer (409: the socket came first; any failure) it is the socket alone, as before.
   */
  function earlySocket(url, attach) {
    var ws = new WebSocket(attach ? url + '&attach=' + attach : url);
    var me = { onopen: null, onmessage: null, onclose: null, onerror: null };
    var held = []; // the socket's events while the answer is awaited
    var settled = !attach;
    var opened = false;
    var unsent = [];
    function deliver(ev) {
      if (ev.type === 'open') {
        if (opened) return;
        opened = true;
        if (me.onopen) me.onopen();
      } else if (ev.type === 'message') {
        if (me.onmessage) me.onmessage({ data: ev.data });
      } else if (me.onclose) {
        me.onclose({ code: ev.code, reason: ev.reason });
      }
    }
    function hear(ev) {
      if (settled) deliver(ev);
      else held.push(ev);
    }
    function settle(lines) {
      if (settled) return;
      settled = true;
      if (lines) {
        deliver({ type: 'open' });
        for (var i = 0; i < lines.length; i++) if (lines[i]) deliver({ type: 'message', data: lines[i] });
      }
      var events = held;
      held = [];
      for (var j = 0; j < events.length; j++) deliver(events[j]);
    }
    ws.onopen = function () {
      var queued = unsent;
      unsent = [];
      for (var i = 0; i < queued.length; i++) ws.send(queued[i]);
      hear({ type: 'open' });
    };
    ws.onmessage = function (e) {
      hear({ type: 'message', data: e.data });
    };
    ws.onclose = function (e) {
      hear({ type: 'close', code: e.code, reason: e.reason });
    };
    ws.onerror = function () {};
    me.send = function (text) {
      if (ws.readyState === 0) unsent.push(text);
      else ws.send(text);
    };
    me.close = function (code, reason) {
      settled = true;
      held = [];
      unsent = [];
      if (code === undefined) ws.close();
      else ws.close(code, reason);
    };
    if (attach) {
      var query = url.slice(url.indexOf('?'));
      fetch('/api/resume' + query + '&attach=' + attach, { cache: 'no-store' })
        .then(function (r) {
          return r.status === 200 ? r.text() : null;
        })
        .then(
          function (text) {
            settle(text ? text.split('\n') : null);
          },
          function () {
            settle(null);
          },
        );
      setTimeout(function () {
        settle(null); // an answer this late is not waited for: the socket speaks alone
      }, 5000);
    }
    return me;
  }

  /** A reload's nonce: 128 random bits in hex, or none (the socket alone) without a source. */
  function nonce() {
    try {
      var bytes = new Uint8Array(16);
      window.crypto.getRandomValues(bytes);
      var hex = '';
      for (var i = 0; i < bytes.length; i++) hex += (bytes[i] < 16 ? '0' : '') + bytes[i].toString(16);
      return hex;
    } catch (e) {
      return null;
    }
  }

  /** live.js's wsUrl: `/ws` on this host, with the join key unless the party is open. */
  function socketUrl(joinKey) {
    return (location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + '/ws' + (joinKey ? '?token=' + encodeURIComponent(joinKey) : '');
  }

  /** client.js's resumeUrl: `url` with the resume in its query. */
  function resumeUrl(base, creds, lastSeq) {
    return base + (base.indexOf('?') >= 0 ? '&' : '?') + 'resume=' + encodeURIComponent(creds.memberId) + '&secret=' + encodeURIComponent(creds.resumeSecret) + '&session=' + encodeURIComponent(creds.sessionId) + '&lastSeq=' + lastSeq;
  }
})();
