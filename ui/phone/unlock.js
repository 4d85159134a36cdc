// Sound unlock: iOS and Android play sound only after a user gesture, per media element. The
// first tap anywhere (the join button) plays silence (or the parked entry, muted) on the one
// element and resumes an AudioContext, so that later starts need no gesture.

let audioCtx = null;
let unlocked = false;
let target = null; // the attached player: a tap inside its gesture starts it

/** A tiny silent WAV (8 kHz, 8-bit, 50 ms) to play on the element inside the gesture. */
function silentWav() {
  const n = 400;
  const bytes = new Uint8Array(44 + n);
  const dv = new DataView(bytes.buffer);
  const str = (o, s) => {
    for (let i = 0; i < s.length; i++) bytes[o + i] = s.charCodeAt(i);
  };
  str(0, 'RIFF');
  dv.setUint32(4, 36 + n, true);
  str(8, 'WAVE');
  str(12, 'fmt ');
  dv.setUint32(16, 16, true);
  dv.setUint16(20, 1, true);
  dv.setUint16(22, 1, true);
  dv.setUint32(24, 8000, true);
  dv.setUint32(28, 8000, true);
  dv.setUint16(32, 1, true);
  dv.setUint16(34, 8, true);
  str(36, 'data');
  dv.setUint32(40, n, true);
  bytes.fill(128, 44);
  let bin = '';
  for (let i = 0; i < bytes.length; i++) bin += String.fromCharCode(bytes[i]);
  return 'data:audio/wav;base64,' + btoa(bin);
}

export function unlockAudio() {
  try {
    const AC = window.AudioContext || window.webkitAudioContext;
    if (AC) {
      if (!audioCtx) audioCtx = new AC();
      if (audioCtx.state === 'suspended') audioCtx.resume();
      const buf = audioCtx.createBuffer(1, 1, 22050);
      const src = audioCtx.createBufferSource();
      src.buffer = buf;
      src.connect(audioCtx.destination);
      src.start(0);
    }
  } catch (e) {
    /* no Web Audio: the media element alone */
  }
  const media = document.getElementById('np-media');
  if (!media) return;
  if (target && target.playFromGesture()) {
    unlocked = true;
    return;
  }
  // Nothing to play yet: play silence (or the parked entry, muted) so that the element is unlocked.
  const parked = !!media.getAttribute('src');
  if (!parked) media.src = silentWav();
  const wasMuted = media.muted;
  if (parked) media.muted = true;
  const p = media.play();
  const done = () => {
    if (!target || !target.wantsPlaying()) media.pause();
    media.muted = wasMuted;
    if (!parked && media.getAttribute('src') && media.getAttribute('src').startsWith('data:')) {
      media.removeAttribute('src');
      media.load();
    }
  };
  if (p && typeof p.then === 'function') {
    p.then(() => {
      unlocked = true;
      done();
      if (target) target.onUnlocked();
    }).catch(() => {
      media.muted = wasMuted;
    });
  } else {
    unlocked = true;
    done();
  }
}

for (const type of ['click', 'touchend', 'keydown']) {
  document.addEventListener(type, (e) => {
    if (!unlocked && e.isTrusted !== false) unlockAudio();
  }, true);
}

/** The page has had no user gesture yet (sound would be refused). */
export function neverActivated() {
  const ua = navigator.userActivation;
  return !!ua && !ua.hasBeenActive;
}

/** The player a gesture should start (`attachSyncPlay` sets it). */
export function setUnlockTarget(player) {
  target = player;
}

/** Whether sound is unlocked. */
export function isUnlocked() {
  return unlocked;
}

/** A play() succeeded: sound is unlocked. */
export function markUnlocked() {
  unlocked = true;
}
