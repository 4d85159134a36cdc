#!/usr/bin/env python3
# Writes the seed scripts of the session fuzz target into fuzz/corpus/session/:
#   python3 fuzz/session_seeds.py fuzz/corpus/session
# The variant counts below must match the enums in fuzz_targets/session.rs (Step, Template,
# Advance, HostAction, PlayTemplate, Words); check a seed with `cargo fuzz fmt -s none session FILE`.
# Encodes session-fuzz scripts the way `arbitrary` decodes them (enum tag: u32 LE scaled by the
# variant count; bool: one byte; u8/u16: LE; Option: bool then value; Vec<Step> take-rest: a
# keep-going byte before each step).
import struct, os, sys
def tag(i, count): return struct.pack("<I", (((2*i+1) << 32) // (2*count)))
def b(x): return bytes([1 if x else 0])
def u8(x): return bytes([x])
def u16(x): return struct.pack("<H", x)
STEP=11; TPL=15; ADV=5; HOST=10; PLAY=9; WORDS=2
def words(i): return tag(0, WORDS) + u8(i)
def connect(lab=False): return tag(0, STEP) + b(lab)
def send(conn, tpl): return tag(1, STEP) + u8(conn) + tpl
def join(dev, name, ext, right=True): return tag(0, TPL) + u8(dev) + words(name) + b(ext) + b(right)
def resume(member, right, last_seq): return tag(1, TPL) + u8(member) + b(right) + u16(last_seq)
def leave(): return tag(2, TPL) + b(False)
def heartbeat(): return tag(3, TPL)
def chat(w): return tag(5, TPL) + words(w)
def presence(status): return tag(10, TPL) + u8(status) + b(False)
def binary(conn): return tag(3, STEP) + u8(conn)
def toolarge(conn): return tag(4, STEP) + u8(conn)
def probe_echo(conn): return tag(5, STEP) + u8(conn) + tag(0, 2)
def disconnect(conn, clean): return tag(8, STEP) + u8(conn) + b(clean)
def advance(kind, ms=0): return tag(9, STEP) + tag(kind, ADV) + (u16(ms) if kind == 0 else b"")
def host(action): return tag(10, STEP) + action
def lock(x): return tag(1, HOST) + b(x)
def capacity(n): return tag(2, HOST) + u16(n)
def play_item(i): return tag(5, HOST) + tag(0, PLAY) + b(True) + u8(i) + b(False)
def pause(): return tag(5, HOST) + tag(1, PLAY)
def library(n): return tag(7, HOST) + u8(n)
def close(): return tag(9, HOST)
HB, PAST_HB, PAST_RESUME, NEXT = 1, 2, 3, 4
def script(steps): return b"".join(b"\x01" + s for s in steps) + b"\x00"
seeds = {
  "join-chat": [connect(True), send(0, join(0, 0, True)), send(0, chat(0)), connect(), send(1, join(1, 1, False)),
                send(1, chat(1)), send(0, heartbeat()), advance(HB), probe_echo(0), send(0, presence(1)), advance(PAST_HB)],
  "drop-and-resume": [connect(), send(0, join(0, 0, True)), connect(), send(1, join(1, 2, True)), disconnect(0, False),
                      send(1, chat(2)), send(1, chat(3)), connect(), send(2, resume(0, True, 0)), send(2, chat(0)),
                      disconnect(1, False), advance(PAST_RESUME)],
  "resume-wrong-secret": [connect(), send(0, join(0, 1, True)), disconnect(0, True), connect(), send(1, resume(0, False, 0)),
                          connect(), send(2, resume(0, True, 5)), send(2, leave())],
  "host-actions": [connect(), send(0, join(0, 0, True)), host(library(3)), host(play_item(1)), advance(0, 900), host(pause()),
                   host(lock(True)), connect(), send(1, join(1, 1, True)), host(lock(False)), host(capacity(1)), connect(),
                   send(2, join(2, 2, True)), host(capacity(100)), send(2, join(2, 2, True)), host(close())],
  "refusals": [connect(), send(0, join(0, 3, False)), send(0, chat(3)), binary(0), connect(), send(1, join(1, 4, True)),
               send(1, join(1, 5, True)), send(1, join(1, 6, True, False)), toolarge(0), advance(NEXT), advance(PAST_HB)],
}
out = sys.argv[1]
for name, steps in seeds.items():
    open(os.path.join(out, name), "wb").write(script(steps))
print(len(seeds))
