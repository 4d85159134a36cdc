// Test media for the SyncPlay browser tests: a mono 16-bit PCM WAV click track (a 1 ms click
// every `every` ms on silence). Browsers play WAV natively and it seeks exactly.
import { writeFileSync } from 'node:fs';

export function clickTrackWav({ seconds = 20, rate = 44100, every = 500, clickMs = 1 } = {}) {
  const n = Math.round(seconds * rate);
  const buf = Buffer.alloc(44 + n * 2);
  buf.write('RIFF', 0);
  buf.writeUInt32LE(36 + n * 2, 4);
  buf.write('WAVE', 8);
  buf.write('fmt ', 12);
  buf.writeUInt32LE(16, 16);
  buf.writeUInt16LE(1, 20); // PCM
  buf.writeUInt16LE(1, 22); // mono
  buf.writeUInt32LE(rate, 24);
  buf.writeUInt32LE(rate * 2, 28);
  buf.writeUInt16LE(2, 32);
  buf.writeUInt16LE(16, 34);
  buf.write('data', 36);
  buf.writeUInt32LE(n * 2, 40);
  const period = Math.round((every / 1000) * rate);
  const click = Math.max(1, Math.round((clickMs / 1000) * rate));
  for (let i = 0; i < n; i++) {
    const v = i % period < click ? 20000 : 0;
    buf.writeInt16LE(v, 44 + i * 2);
  }
  return buf;
}

export function writeClickTrack(path, opts) {
  writeFileSync(path, clickTrackWav(opts));
  return path;
}
