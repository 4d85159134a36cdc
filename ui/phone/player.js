// SyncPlay on the phone: the playback engine. It plays along with the group on one media
// element, corrects drift, learns this device's start and seek latencies and reports
// `playback.progress`; the math (clock filter, positions, start planning, correction tiers) is in
// ../shared/syncplay.js, the "Now playing" panel in now-playing.js, the sound unlock in unlock.js.
//
// One <video playsinline> element (#np-media) plays every entry, audio or video: mobile browsers
// unlock sound per element, on a user gesture, so the same element is reused for the whole party.
//
//   createSyncClock()         the clock filter to give PartylineClient ({ clock })
//   attachSyncPlay(client)    plays along with the group; returns the controller
//   window.__partyline        { serverNow(), now(), clock, player, client } for tests and debugging
import {
  LatencyEstimate,
  MedianWindow,
  SYNC_DEFAULTS,
  SyncClock,
  correction,
  mediaTarget,
  planStart,
  sameTrajectory,
  syncError,
  targetPosition,
  toLocalMs,
} from '../shared/syncplay.js';
import { LIMITS, TIMING } from '../shared/wire.js';
import { LibraryPager } from '../shared/library.js';
import { bindControls, renderPanel, renderTime } from './now-playing.js';
import { markUnlocked, setUnlockTarget } from './unlock.js';

const $ = (id) => document.getElementById(id);
const STORE = {
  outputDelay: 'partyline.outputDelay', // ms this device's speaker lags (Bluetooth)
  startLatency: 'partyline.startLatency', // learned: play() → media clock running
  seekLatency: 'partyline.seekLatency', // learned: currentTime = x → playing from x
};
const LOOP_MS = 200; // correction loop period
const REPORT_MS = 1000; // playback.progress while playing
const SETTLE_MS = 350; // after a start or seek, let the pipeline settle before measuring
const FLUSHY_HOLD_MS = 1000; // an engine that flushes on rate changes: hold each rate this long
const FLUSHY_STEP = 0.01; // …and nudge by at least 1 %
const STALL_MS = 400; // the media clock stood still this long, unprompted: buffering

function load(key, fallback) {
  try {
    const v = parseFloat(localStorage.getItem(key));
    return Number.isFinite(v) ? v : fallback;
  } catch (e) {
    return fallback;
  }
}
function save(key, value) {
  try {
    localStorage.setItem(key, String(Math.round(value * 10) / 10));
  } catch (e) {
    /* private mode: remembered for this page only */
  }
}
const clamp = (v, lo, hi) => Math.min(hi, Math.max(lo, v));

/** The clock filter the page gives its PartylineClient. */
export function createSyncClock() {
  return new SyncClock();
}

let current = null; // the attached player

// ---- the controller -----------------------------------------------------------------------------

class SyncPlayer {
  constructor(client) {
    this.client = client;
    this.media = $('np-media');
    this.group = null; // the newest syncplay.state
    this.active = null; // the state the media follows now (a new one takes effect at its time)
    this.lib = new LibraryPager((q) => client.sendLibraryQuery(q), LIMITS.libraryPageItems);
    this.library = this.lib.byId; // every item seen, by id
    this.loaded = null; // { entryId, itemId, url }
    this.status = 'idle'; // idle | loading | ready | playing | paused | buffering | seeking | blocked | error | ended
    this.outputDelay = clamp(load(STORE.outputDelay, 0), 0, 2000);
    this.startLatency = new LatencyEstimate({ initial: load(STORE.startLatency, 60), max: 500 });
    this.seekLatency = new LatencyEstimate({ initial: load(STORE.seekLatency, 60), max: 1000 });
    // Values remembered from earlier sessions are refined, not replaced, by the next measurement.
    if (load(STORE.startLatency, null) != null) this.startLatency.count = 1;
    if (load(STORE.seekLatency, null) != null) this.seekLatency.count = 1;
    this.median = new MedianWindow(3);
    this.corr = null;
    this.error = null; // the smoothed sync error (ms, + ahead), while playing
    this.settleUntil = 0;
    this.learn = null; // 'start' | 'seek': learn that latency from the next readings
    this.learnBuf = [];
    this.readySent = null;
    this.pendingSeek = null;
    this.timers = {};
    this.seeks = [];
    this.notice = null;
    this.offs = [];
    this.volume = 1;
    this.trace = []; // the last 200 media events and corrections, for tests and debugging
    this.dirty = false; // played since the last seek: the pipeline holds decoded audio ahead
    this._bind();
    this.loop = setInterval(() => this.tick(), LOOP_MS);
    this.reporter = setInterval(() => this.periodicReport(), REPORT_MS);
    this.render();
  }

  // ---- time ----
  now() {
    return this.client.now();
  }
  serverNowUs() {
    return this.client.serverNow() * 1000;
  }
  offset() {
    return this.client.clock.currentOffset(this.client.now());
  }
  mediaMs() {
    return this.media.currentTime * 1000;
  }

  /** Runs `fn` at local time `localMs`: a timer to ~12 ms before, then a short spin. */
  at(name, localMs, fn) {
    this.cancel(name);
    const fire = () => {
      this.timers[name] = null;
      const end = this.now() + 20;
      while (this.now() < localMs && this.now() < end) {
        /* spin: setTimeout is only good to a few ms */
      }
      fn();
    };
    const dt = localMs - this.now() - 12;
    this.timers[name] = setTimeout(fire, Math.max(0, dt));
  }
  cancel(name) {
    if (this.timers[name] != null) clearTimeout(this.timers[name]);
    this.timers[name] = null;
  }

  log(what, extra) {
    const m = this.media;
    const e = { t: Math.round(this.now()), what, ct: Math.round(m.currentTime * 10000) / 10, rs: m.readyState };
    if (extra) Object.assign(e, extra);
    this.trace.push(e);
    if (this.trace.length > 200) this.trace.shift();
  }

  // ---- wiring ----
  _bind() {
    const c = this.client;
    this.offs.push(c.on('message', (m) => this.onMessage(m)));
    this.offs.push(c.on('servererror', (m) => {
      if (m && m.details && m.details.reason === 'syncplay') this.showNotice(m.code === 'unauthorized' ? 'The host has not allowed that.' : m.message || 'That did not work.');
    }));
    this.offs.push(c.on('ended', () => this.stop()));
    const m = this.media;
    const on = (type, fn) => {
      const h = (e) => {
        this.log(type);
        fn(e);
      };
      m.addEventListener(type, h);
      this.offs.push(() => m.removeEventListener(type, h));
    };
    on('loadedmetadata', () => {
      if (this.pendingSeek != null) {
        const ms = this.pendingSeek;
        this.pendingSeek = null;
        this.seekMedia(ms);
      }
      if (this.needsApply) this.apply();
      this.render();
    });
    for (const t of ['seeked', 'canplay', 'canplaythrough', 'loadeddata']) on(t, () => this.checkReady());
    on('seeked', () => {
      if (m.paused) this.dirty = false;
      this.settleUntil = Math.max(this.settleUntil, this.now() + SETTLE_MS);
      if (this.status === 'seeking' && !m.paused) this.setStatus('playing');
    });
    on('waiting', () => this.stalled());
    on('stalled', () => {
      if (m.readyState < 3) this.stalled();
    });
    on('playing', () => {
      this.stallSince = null;
      this.suspect = null;
      if (this.status === 'buffering' || this.status === 'loading' || this.status === 'blocked' || this.status === 'seeking') {
        const wasBuffering = this.status === 'buffering';
        this.setStatus('playing');
        this.settleUntil = this.now() + SETTLE_MS;
        if (wasBuffering) this.report('playing');
      }
    });
    on('ended', () => {
      if (this.wantsPlaying()) {
        this.setStatus('ended');
        this.report('ended'); // the host moves the group to the next queue entry
      }
    });
    on('error', () => {
      if (!m.getAttribute('src') || m.getAttribute('src').startsWith('data:')) return;
      this.setStatus('error');
      this.report('error');
    });
    on('durationchange', () => this.render());
    this.offs.push(...bindControls(this));
    const vis = () => {
      if (document.visibilityState === 'visible' && this.group) this.apply();
    };
    document.addEventListener('visibilitychange', vis);
    this.offs.push(() => document.removeEventListener('visibilitychange', vis));
  }

  destroy() {
    for (const off of this.offs) off();
    this.offs = [];
    clearInterval(this.loop);
    clearInterval(this.reporter);
    for (const k of Object.keys(this.timers)) this.cancel(k);
    this.stop();
  }

  // ---- messages ----
  onMessage(m) {
    if (m.type === 'library.update' || (m.type === 'library.page' && this.lib.onPage(m))) {
      if (m.type === 'library.update') this.lib.onUpdate(m);
      if (this.group && (!this.loaded || this.loaded.entryId !== this.group.entryId)) this.apply();
      this.render();
    } else if (m.type === 'syncplay.state') {
      this.onState(m);
    } else if (m.type === 'syncplay.queue') {
      this.onQueueStep(m);
    } else if (m.type === 'remote.command') {
      if (m.command === 'volume' && typeof m.value === 'number') {
        this.volume = clamp(m.value, 0, 1);
        this.media.volume = this.volume; // (iOS ignores element volume: the hardware buttons rule)
        this.render();
      }
    }
  }

  /** One queue step (an entry added at `index`, or `removed`): the host sends it instead of the
   * whole state when only the queue changed. Playback is unchanged, so only the lists redraw. */
  onQueueStep(m) {
    const g = this.group;
    if (!g || typeof m.revision !== 'number' || m.revision <= g.revision) return;
    const queue = Array.isArray(g.queue) ? g.queue.slice() : [];
    if (m.added && m.added.entryId) queue.splice(Math.min(m.index ?? queue.length, queue.length), 0, m.added);
    if (m.removed) {
      const at = queue.findIndex((e) => e.entryId === m.removed);
      if (at >= 0) queue.splice(at, 1);
    }
    const next = Object.assign({}, g, { queue, revision: m.revision });
    if (this.active === g) this.active = next;
    this.group = next;
    this.render();
  }

  onState(s) {
    const prev = this.group;
    if (prev && typeof s.revision === 'number' && s.revision < prev.revision) return;
    this.group = s;
    this.client.setPingInterval(s.state === 'idle' ? TIMING.probeInterval : this.client.clock.samples && this.client.clock.samples.length < 24 ? 1000 : 2000);
    const unchanged = prev && this.loaded && this.loaded.entryId === s.entryId && sameTrajectory(prev, s, this.serverNowUs(), 1);
    if (unchanged && s.state !== 'waiting') {
      if (this.active === prev) this.active = s;
      this.render();
      return;
    }
    this.apply();
  }

  // ---- applying the group's state ----
  apply() {
    const s = this.group;
    this.needsApply = false;
    if (!s || s.state === 'idle' || !s.entryId) {
      this.stop();
      this.render();
      return;
    }
    if (!this.loaded || this.loaded.entryId !== s.entryId) {
      const item = this.library.get(s.itemId);
      if (!item) {
        this.lib.want([s.itemId]); // apply() runs again with the answer
        this.setStatus('loading');
        this.render();
        return;
      }
      this.loadEntry(s, item);
    }
    if (this.media.readyState < 1) {
      this.needsApply = true; // loadedmetadata runs apply() again
      if (s.state === 'waiting' || s.state === 'paused') this.pendingSeek = s.position;
      this.render();
      return;
    }
    this.cancel('start');
    this.cancel('switch');
    this.cancel('pause');
    if (s.state === 'waiting') {
      if (!this.media.paused) this.media.pause();
      this.active = s;
      this.seekMedia(s.position, this.dirty);
      this.setStatus('loading');
      this.checkReady();
    } else if (s.state === 'paused') {
      this.schedulePause(s);
    } else if (s.state === 'playing') {
      if (this.media.paused || this.status === 'ended' || this.status === 'blocked') this.scheduleStart(s);
      else this.scheduleSwitch(s);
    }
    this.render();
  }

  /** A host path (`url`, `cover`) with the join key. */
  mediaUrl(path) {
    const key = this.joinKey();
    return path + (key ? (path.indexOf('?') >= 0 ? '&' : '?') + 'token=' + encodeURIComponent(key) : '');
  }

  loadEntry(s, item) {
    const url = this.mediaUrl(item.url);
    this.loaded = { entryId: s.entryId, itemId: s.itemId, url, video: /^video\//.test(item.mime || '') };
    this.readySent = null;
    this.pendingSeek = null;
    this.active = null;
    this.corr = null;
    this.median.clear();
    this.error = null;
    this.media.preload = 'auto';
    this.media.src = url;
    this.dirty = false;
    this.setGroupRate(s.rate);
    this.media.hidden = !this.loaded.video;
    this.setStatus('loading');
  }

  joinKey() {
    try {
      return new URL(this.client.url, location.href).searchParams.get('token');
    } catch (e) {
      return null;
    }
  }

  /**
   * Positions the element. `force`: seek even to where it seems to be: after playing, Chromium
   * resumes from its decoder's position, up to ~100 ms past the currentTime it showed when paused,
   * unless a seek flushes the pipeline.
   */
  seekMedia(ms, force) {
    if (this.media.readyState < 1) {
      this.pendingSeek = ms;
      return;
    }
    const target = Math.max(0, ms) / 1000;
    if (force || Math.abs(this.media.currentTime - target) > 0.0005) this.media.currentTime = target;
  }

  /** Loaded and positioned for a waiting state: tell the host (once per entry and revision). */
  checkReady() {
    const s = this.group;
    if (!s || s.state !== 'waiting' || !this.loaded || this.loaded.entryId !== s.entryId) return;
    const m = this.media;
    if (m.readyState < 2 || m.seeking || this.pendingSeek != null) return;
    if (Math.abs(this.mediaMs() - s.position) > 5) return;
    const key = s.entryId + '@' + s.revision;
    if (this.readySent === key) return;
    this.readySent = key;
    this.setStatus('ready');
    this.report('ready');
    this.render();
  }

  schedulePause(s) {
    const m = this.media;
    const park = () => {
      this.active = s;
      if (!m.paused) m.pause();
      this.setGroupRate(s.rate);
      this.seekMedia(s.position, this.dirty);
      this.setStatus('paused');
      this.error = null;
      this.report('paused');
      this.render();
    };
    const when = toLocalMs(s.serverTime, this.offset()) - this.outputDelay;
    if (!m.paused && when > this.now() + 2) this.at('pause', when, park);
    else park();
  }

  scheduleStart(s) {
    const m = this.media;
    if (!m.paused) m.pause();
    const plan = planStart(s, {
      serverNowUs: this.serverNowUs(),
      outputDelay: this.outputDelay,
      startLatency: this.startLatency.value,
      prepare: this.seekLatency.value + 80,
    });
    this.seekMedia(plan.seekTo, this.dirty && !m.seeking);
    this.setStatus(this.status === 'blocked' ? 'blocked' : 'ready');
    this.at('start', toLocalMs(plan.playAtUs, this.offset()), () => {
      this.active = s;
      this.corr = null;
      this.median.clear();
      // Learn the start latency only from a clean start (the element armed in time).
      this.learn = m.seeking || m.readyState < 3 ? null : 'start';
      this.learnBuf = [];
      this.play();
    });
  }

  /** Already playing, a new playing state: a group seek (a jump) or a rate change / re-anchor. */
  scheduleSwitch(s) {
    const old = this.active;
    const at = Math.max(s.serverTime, this.serverNowUs());
    const jump = old && old.entryId === s.entryId ? Math.abs(targetPosition(s, at) - targetPosition(old, at)) : Infinity;
    const base = toLocalMs(s.serverTime, this.offset()) - this.outputDelay;
    if (jump >= SYNC_DEFAULTS.seekThreshold) {
      this.at('switch', base - this.seekLatency.value, () => {
        this.active = s;
        this.correctBySeek();
      });
    } else {
      this.at('switch', base, () => {
        this.active = s;
        this.setGroupRate(s.rate);
        this.corr = null;
      });
    }
  }

  /**
   * The group's rate on the element. At the normal speed the small corrections resample (pitch
   * follows, inaudibly for a fraction of a percent): Chromium's pitch-preserving time stretch
   * jumps ~15 ms each time it switches in or out, which the correction would then chase. At any
   * other group speed, pitch is preserved (the stretch then never switches off).
   */
  setGroupRate(rate) {
    const m = this.media;
    const r = rate || 1;
    const keep = r !== 1;
    if (m.preservesPitch !== keep) {
      m.preservesPitch = keep;
      if ('webkitPreservesPitch' in m) m.webkitPreservesPitch = keep;
      if ('mozPreservesPitch' in m) m.mozPreservesPitch = keep;
    }
    if (m.playbackRate !== r) m.playbackRate = r;
  }

  play() {
    const m = this.media;
    this.log('play()');
    this.dirty = true;
    this.setGroupRate(this.active && this.active.rate);
    const p = m.play();
    this.settleUntil = this.now() + SETTLE_MS;
    if (p && typeof p.then === 'function') {
      p.then(() => {
        markUnlocked();
        if (this.status !== 'buffering') this.setStatus('playing');
        this.settleUntil = this.now() + SETTLE_MS;
        this.report('playing');
        this.render();
      }).catch((err) => {
        if (err && err.name === 'NotAllowedError') {
          this.setStatus('blocked');
          this.learn = null;
        } else if (err && err.name !== 'AbortError') {
          this.setStatus('error');
          this.report('error');
        }
        this.render();
      });
    }
  }

  /** Inside a user gesture: if the group is playing, start right here (the gesture is needed). */
  playFromGesture() {
    const s = this.group;
    if (!s || s.state !== 'playing' || !this.loaded || this.media.readyState < 1) return false;
    this.cancel('start');
    this.active = s;
    const L = this.seekLatency.value + this.startLatency.value;
    this.seekMedia(mediaTarget(s, this.serverNowUs() + L * 1000, this.outputDelay));
    this.corr = null;
    this.median.clear();
    this.learn = null;
    this.learnBuf = [];
    this.play();
    return true;
  }

  onUnlocked() {
    if (this.status === 'blocked') this.apply();
    this.render();
  }

  wantsPlaying() {
    return !!(this.group && this.group.state === 'playing');
  }

  stop() {
    for (const k of ['start', 'switch', 'pause']) this.cancel(k);
    const m = this.media;
    if (m && !m.paused) m.pause();
    this.active = null;
    this.error = null;
    this.setStatus('idle');
  }

  // `waiting`/`stalled` are only suspicions (WebKitGTK fires `waiting` on every rate change while
  // its clock runs on): the next tick decides from the media clock (see tick).
  stalled() {
    if (!this.wantsPlaying() || this.media.paused || this.status === 'buffering') return;
    if (this.media.seeking) return; // a seek of ours: not a stall
    if (!this.suspect) this.suspect = { t: this.now(), ct: this.mediaMs() };
  }

  buffering() {
    this.stallSince = null;
    this.suspect = null;
    this.setStatus('buffering');
    this.report('buffering');
    this.render();
  }

  /** Did the media clock move at least half as fast as its rate since the last tick? (null: unknown) */
  clockRunning() {
    const m = this.media;
    const t = this.now();
    const ct = m.currentTime * 1000;
    const prev = this.lastClock;
    this.lastClock = { t, ct };
    if (!prev || t - prev.t < LOOP_MS / 2 || m.paused || m.seeking) return null;
    return (ct - prev.ct) / (t - prev.t) > 0.5 * (m.playbackRate || 1);
  }

  // ---- the correction loop ----
  tick() {
    const s = this.active;
    const m = this.media;
    if (this.group && this.group.state !== 'idle') {
      const n = this.client.clock.samples ? this.client.clock.samples.length : 99;
      this.client.setPingInterval(n < 24 ? 1000 : 2000);
    }
    const running = this.clockRunning();
    if (s && s.state === 'playing' && !m.paused && !m.ended) {
      const now = this.now();
      const sus = this.suspect;
      if (sus && now - sus.t >= LOOP_MS / 2) {
        this.suspect = null;
        const moved = (this.mediaMs() - sus.ct) / (now - sus.t) > 0.5 * (m.playbackRate || 1);
        if (!moved && this.status !== 'buffering') this.buffering();
        if (moved && sus.t - (this.rateSetAt || -1e9) < 50) this.rateFlushes = true; // WebKitGTK
      } else if (running === true) {
        this.stallSince = null;
        if (this.status === 'buffering') {
          this.setStatus('playing');
          this.settleUntil = now + SETTLE_MS;
          this.report('playing');
        }
      } else if (running === false && this.status !== 'buffering') {
        if (this.stallSince == null) this.stallSince = now;
        if (now - this.stallSince >= STALL_MS) this.buffering();
      }
    } else {
      this.stallSince = null;
      this.suspect = null;
    }
    if (s && s.state === 'playing' && !m.paused && !m.seeking && !m.ended && (m.readyState >= 3 || running === true)
      && this.now() >= this.settleUntil && this.status !== 'buffering') {
      const e = syncError(this.mediaMs(), s, this.serverNowUs(), this.outputDelay);
      const med = this.median.push(e);
      this.error = med;
      if (this.learn && Math.abs(e) < SYNC_DEFAULTS.seekThreshold) {
        // Learning a latency: hold the rate for three readings (a correction would change the
        // error being measured), then learn from their median (the first is often a transient).
        this.learnBuf.push(e);
        if (this.learnBuf.length < 3) {
          if (m.playbackRate !== (s.rate || 1)) m.playbackRate = s.rate || 1;
          this.renderTime();
          return;
        }
        const mid = this.learnBuf.slice().sort((a, b) => a - b)[1];
        const est = this.learn === 'start' ? this.startLatency : this.seekLatency;
        est.learn(mid, s.rate || 1);
        save(this.learn === 'start' ? STORE.startLatency : STORE.seekLatency, est.value);
        this.log('learn-' + this.learn, { e: Math.round(mid * 10) / 10, value: Math.round(est.value * 10) / 10 });
        this.learn = null;
        this.learnBuf = [];
      } else if (this.learn) {
        this.learn = null; // too far off to be a latency (a stall, a jump): just correct
        this.learnBuf = [];
      }
      this.corr = correction(med, s.rate || 1, this.corr);
      if (this.corr.action !== 'none' || m.playbackRate !== this.corr.rate) {
        this.log(this.corr.action === 'seek' ? 'seek' : 'rate', { e: Math.round(e * 10) / 10, med: Math.round(med * 10) / 10, rate: Math.round(this.corr.rate * 10000) / 10000 });
      }
      if (this.corr.action === 'seek') this.correctBySeek();
      else {
        let want = this.corr.rate;
        const g = s.rate || 1;
        if (this.rateFlushes) {
          // This engine flushes its pipeline on every rate change (a few ms lost each time): fewer,
          // larger nudges, each held FLUSHY_HOLD_MS, instead of one every tick.
          if (this.now() - this.rateSetAt < FLUSHY_HOLD_MS) want = m.playbackRate;
          else if (want !== g) want = g * (1 + Math.sign(want - g) * Math.max(FLUSHY_STEP, Math.abs(want / g - 1)));
        }
        const exact = want === g;
        if (Math.abs(m.playbackRate - want) >= SYNC_DEFAULTS.minRateStep || (exact && m.playbackRate !== want)) {
          m.playbackRate = want;
          this.rateSetAt = this.now();
        }
      }
    }
    this.renderTime();
  }

  correctBySeek() {
    const s = this.active;
    const m = this.media;
    const now = this.now();
    this.seeks = this.seeks.filter((t) => now - t < 10000);
    if (this.seeks.length >= 3) {
      // Three seeks in ten seconds did not hold (a slow network): the capped nudge will do.
      const e = this.error || 0;
      m.playbackRate = (s.rate || 1) * (1 - Math.sign(e) * SYNC_DEFAULTS.maxAdjust);
      return;
    }
    this.seeks.push(now);
    const L = this.seekLatency.value;
    this.setGroupRate(s.rate);
    this.seekMedia(mediaTarget(s, this.serverNowUs() + L * 1000, this.outputDelay));
    this.corr = null;
    this.median.clear();
    this.learn = 'seek';
    this.learnBuf = [];
    this.settleUntil = now + SETTLE_MS;
    this.setStatus('seeking');
  }

  // ---- reports ----
  report(state) {
    const s = this.group;
    const entryId = (this.loaded && this.loaded.entryId) || (s && s.entryId) || null;
    if (!entryId) return;
    const r = this.active && this.active.rate ? this.active.rate : 1;
    const msg = { entryId, position: Math.max(0, Math.round((this.mediaMs() - this.outputDelay * r) * 10) / 10), state };
    if (state === 'playing' && Number.isFinite(this.error)) msg.error = Math.round(this.error * 10) / 10;
    this.client.sendPlaybackProgress(msg);
  }

  periodicReport() {
    if (!this.wantsPlaying() || !this.loaded) return;
    if (this.status === 'playing' || this.status === 'seeking') this.report('playing');
    else if (this.status === 'buffering') this.report('buffering');
  }

  // ---- UI ----
  can(what) {
    return !!(this.group && this.group.permissions && this.group.permissions[what]);
  }

  command(name, fields) {
    if (!this.client.sendSyncplayCommand(name, fields)) this.showNotice("Not connected: try again in a moment.");
  }

  setOutputDelay(ms) {
    if (!Number.isFinite(ms)) ms = 0;
    this.outputDelay = clamp(Math.round(ms), 0, 2000);
    save(STORE.outputDelay, this.outputDelay);
    this.corr = null;
    this.median.clear();
    this.render();
  }

  showNotice(text) {
    this.notice = { text, until: this.now() + 4000 };
    this.render();
  }

  setStatus(st) {
    if (this.status === st) return;
    this.status = st;
    if (st !== 'playing' && st !== 'seeking') this.error = st === 'buffering' ? this.error : null;
    this.render();
  }

  render() {
    renderPanel(this);
  }

  renderTime() {
    renderTime(this);
  }
}

/** Plays along with the group on `client` (replacing any previous client's player). */
export function attachSyncPlay(client) {
  if (current) current.destroy();
  current = new SyncPlayer(client);
  setUnlockTarget(current);
  window.__partyline = {
    client,
    player: current,
    clock: client.clock,
    now: () => client.now(),
    serverNow: () => client.serverNow(),
  };
  return current;
}
