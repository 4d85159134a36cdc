// How long `partyline host` takes to come back on a party file whose guests shared ~500 MB:
// shares `FILES` photos of 50 MB each over real HTTP (a guest joined over the WebSocket), stops
// the host, starts it again on the same file `RUNS` times and prints the time from the start to
// its JSON line (the host prints it once it is listening, after it has taken the uploads back).
// The files are in the page cache (they were just written): what it measures is the host's own
// work at start. Usage: node --experimental-websocket bench/uploads-restore.mjs [files] [runs]
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

const BIN = process.env.PARTYLINE_BIN || new URL('../target/debug/partyline', import.meta.url).pathname;
const FILES = Number(process.argv[2] || 10);
const RUNS = Number(process.argv[3] || 3);
const SIZE = 50 * 1024 * 1024 - 4096; // under the default 50 MiB a file

function start(file) {
  const t0 = performance.now();
  const child = spawn(BIN, ['host', '--party-file', file, '--bind', '127.0.0.1', '--port', '0', '--json', '--no-mdns', '--no-qr'],
    { stdio: ['pipe', 'pipe', 'inherit'] });
  return new Promise((res, rej) => {
    const rl = createInterface({ input: child.stdout });
    rl.once('line', (line) => res({ child, info: JSON.parse(line), ms: performance.now() - t0 }));
    child.once('exit', (code) => rej(new Error(`host exited ${code}`)));
  });
}

async function stop(child) {
  const exited = new Promise((r) => child.once('exit', r));
  child.stdin.end('close\n');
  await exited;
}

const dir = mkdtempSync(join(tmpdir(), 'partyline-bench-restore-'));
try {
  const file = join(dir, 'party.db');
  const { child, info } = await start(file);
  const ws = new WebSocket(`${info.wsUrl}?token=${encodeURIComponent(info.joinKey)}`);
  await new Promise((r) => (ws.onopen = r));
  const welcome = new Promise((r) => (ws.onmessage = (ev) => JSON.parse(ev.data).type === 'welcome' && r()));
  ws.send(JSON.stringify({ type: 'join', timestamp: Date.now(), sessionId: info.sessionId, protocolVersion: 'partyline/1',
    deviceInfo: { id: 'bench-dev', name: 'Bench', type: 'client' } }));
  await welcome;
  // A PNG's signature and header, then zeros: sniffed as a photo, stored as it came.
  const body = Buffer.alloc(SIZE);
  Buffer.from('89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489', 'hex').copy(body);
  for (let i = 0; i < FILES; i++) {
    body.writeUInt32BE(i, 64); // each file its own bytes
    const res = await fetch(`${info.httpUrl.replace(/\/$/, '')}/api/uploads?device=bench-dev&name=photo-${i}.png`, {
      method: 'POST', headers: { authorization: `Bearer ${info.joinKey}` }, body,
    });
    if (res.status !== 201) throw new Error(`upload ${i}: ${res.status} ${await res.text()}`);
  }
  ws.close();
  await stop(child);
  const times = [];
  for (let run = 0; run < RUNS; run++) {
    const again = await start(file);
    if (!again.info.restored) throw new Error('the party was not picked up');
    times.push(Math.round(again.ms));
    await stop(again.child);
  }
  console.log(`uploads-restore: ${FILES} uploads, ${Math.round((FILES * SIZE) / 1e6)} MB: start to listening ${times.join(', ')} ms`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
