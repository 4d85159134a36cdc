#!/usr/bin/env python3
"""End-to-end test of the desktop app, as a person would use it, on a private X display.

1. Launch the app (hosting on 127.0.0.1, mDNS off, settings in a temporary directory), take a
   screenshot of the whole display and decode the QR code in it with zbarimg.
   The party screen at 1366x768 and 1920x1080, light and dark, with 0, 3 and 30 guests: nothing
   scrolls, the QR code has at least 8 px per module and decodes, the room code is 64 px or more,
   the card says Full and Locked on itself (party-<width>-<guests>-<theme>.png).
2. Drive the app through tauri-driver (WebKitWebDriver) and a phone through headless Chromium
   (chromedriver): the phone opens the decoded URL and joins; the member appears in the app's
   list; the app kicks it with a reason; the phone shows the kicked screen with it. Then: lock from the app (the phone
   cannot rejoin), join the app's own party from its Browse tab (ui/shared/client.js in the web
   view), dark mode, SyncPlay, announcements, the chat (lines, an edit, the host deleting one with
   the pointer), a photo a guest shares on the Photos card and the uploads switch, stop hosting.
   Every switch and button of the host view is clicked with real pointer events at 1366x768, and
   after each click the page itself has not scrolled (the top bar and the QR card in view).
   The capacity field's own messages, and the media folder field keeping what is typed.
0. First, as a user expects a desktop app (each on a data dir of its own, PARTYLINE_DATA_DIR): a
   second launch (over a private D-Bus session bus) brings the first window forward and exits;
   the window fits 1366×768 and its title names the party; "Choose…" shares the folder the
   picker answers (PARTYLINE_PICK_FOLDER: a native dialog cannot be driven through WebDriver);
   the close button asks while guests are in the party (WM_DELETE_WINDOW, as a window manager
   sends it) and closes at once with none; after kill -9 the next launch has the same QR code,
   says "Party restored", and the phone resumes as the same member; New party asks, then gives a
   new key.

Screenshots go to --out (tests/output/desktop/). Nothing leaves 127.0.0.0/8.
Run it through run.sh, which builds the app first.
"""

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from selenium import webdriver
from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException, WebDriverException
from selenium.webdriver.chrome.service import Service as ChromeService
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.options import ArgOptions
from selenium.webdriver.support.ui import WebDriverWait

WAIT = 20  # seconds for any one thing to happen

# The display: room for the window at the largest size the party screen is checked at.
SCREEN = (1920, 1080)
# The sizes the party screen must fit without scrolling: a common laptop, and a TV.
SIZES = [(1366, 768), (1920, 1080)]
# The fewest pixels per QR module for a phone to read the code across a room (issue 18).
MIN_PX_PER_MODULE = 8
# The smallest room code, in CSS pixels, that reads across a room (issue 18).
MIN_ROOM_CODE_PX = 64

STEP = [0]


def step(text):
    STEP[0] += 1
    print(f"[e2e {STEP[0]:2}] {text}", flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, proc, what, timeout=WAIT):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"{what} exited with {proc.returncode} before listening on {port}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise SystemExit(f"{what} is not listening on {port} after {timeout}s")


class Procs:
    """Processes this test started, ended by their own ids (process groups) on the way out."""

    def __init__(self):
        self.procs = []

    def start(self, args, log, **kw):
        p = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, start_new_session=True, **kw)
        self.procs.append(p)
        return p

    def stop(self, p):
        if p.poll() is None:
            try:
                os.killpg(p.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                p.wait(5)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait(5)

    def stop_all(self):
        for p in reversed(self.procs):
            self.stop(p)


def start_xvfb(procs, logs, screen=None):
    """A private display; its number comes from Xvfb itself (-displayfd)."""
    r, w = os.pipe()
    log = open(logs / "xvfb.log", "a")
    p = subprocess.Popen(
        ["Xvfb", "-displayfd", str(w), "-screen", "0", screen or f"{SCREEN[0]}x{SCREEN[1]}x24", "-nolisten", "tcp", "-noreset"],
        stdout=log, stderr=subprocess.STDOUT, pass_fds=(w,), start_new_session=True,
    )
    procs.procs.append(p)
    os.close(w)
    with os.fdopen(r) as f:
        num = f.readline().strip()
    if not num:
        raise SystemExit("Xvfb did not start (see xvfb.log)")
    return ":" + num


def painted(driver):
    """Returns once the page has rendered two more frames, so a screenshot shows what the test
    just checked in the DOM."""
    driver.set_script_timeout(10)
    driver.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "requestAnimationFrame(() => requestAnimationFrame(() => setTimeout(() => done(true), 50)));"
    )


def screenshot(display, path, driver=None, size=None):
    """The whole display, as a person would see it (ImageMagick's import); with `driver`, after
    its page has painted; with `size` (w, h), only the window's corner of it (the window sits at
    0,0: no window manager)."""
    if driver is not None:
        painted(driver)
    crop = ["-crop", f"{size[0]}x{size[1]}+0+0", "+repage"] if size else []
    subprocess.run(["import", "-display", display, "-window", "root", *crop, str(path)], check=True)
    return path


def decode_qr(path):
    r = subprocess.run(["zbarimg", "-q", "--raw", str(path)], capture_output=True, text=True)
    codes = [line for line in r.stdout.splitlines() if line.strip()]
    return codes


def wait_for_qr(display, path, expect=None, timeout=WAIT * 2):
    """Screenshots until a QR code decodes (the first WebKit start can take a while), and, given
    `expect`, until the screen shows exactly that one code (a repaint can trail the DOM)."""
    deadline = time.monotonic() + timeout
    codes = []
    while time.monotonic() < deadline:
        screenshot(display, path)
        codes = decode_qr(path)
        if codes and (expect is None or codes == [expect]):
            return codes
        time.sleep(0.5)
    raise AssertionError(f"the screen's QR codes are {codes}, wanted {expect or 'one'}, after {timeout}s (see {path})")


def api_info(join_url):
    base = join_url.split("#", 1)[0].rstrip("/")
    assert base.startswith("http://127."), f"the join URL is not on loopback: {join_url}"
    with urllib.request.urlopen(base + "/api/info", timeout=5) as r:
        return json.load(r)


def api_info_at(join_url):
    """/api/info at a join URL on any address (api_info insists on loopback)."""
    base = join_url.split("#", 1)[0].rstrip("/")
    with urllib.request.urlopen(base + "/api/info", timeout=5) as r:
        return json.load(r)


def until(driver, what, fn, timeout=WAIT):
    try:
        # A stale element only means the page re-rendered between finding and reading it.
        return WebDriverWait(driver, timeout, poll_frequency=0.2,
                             ignored_exceptions=(NoSuchElementException, StaleElementReferenceException)).until(fn)
    except Exception as e:
        raise AssertionError(f"timed out waiting for: {what}") from e


def visible(driver, testid):
    els = driver.find_elements(By.CSS_SELECTOR, f'[data-testid="{testid}"]')
    return els[0] if els and els[0].is_displayed() else None


def by_testid(driver, testid):
    return driver.find_element(By.CSS_SELECTOR, f'[data-testid="{testid}"]')


def member_row(driver, name):
    """The host controls' row for member `name`, found by its words in the DOM (shown or not:
    the list is in the host controls, which may be closed)."""
    for li in driver.find_elements(By.CSS_SELECTOR, '[data-testid="member-list"] [data-testid="member"]'):
        if li.find_element(By.CSS_SELECTOR, '[data-testid="member-name"]').get_attribute("textContent") == name:
            return li
    return None


def failure_screenshots(display, phone, out):
    """What the screen and the phone showed when a step failed. The desktop through the display:
    WebKitWebDriver's own screenshot command can hang for good once a test timed out mid-step."""
    if display is not None:
        try:
            screenshot(display, out / "failure-display.png")
        except Exception:
            pass
    if phone is not None:
        try:
            phone.save_screenshot(str(out / "failure-phone.png"))
        except Exception:
            pass


def quit_all(procs, *drivers):
    for d in drivers:
        if d is not None:
            try:
                d.quit()
            except Exception:
                pass
    procs.stop_all()


def start_tauri_driver(procs, logs, env):
    """tauri-driver with WebKitWebDriver, ready for sessions; returns its port."""
    port, native = free_port(), free_port()
    wd = shutil.which("WebKitWebDriver") or "/usr/bin/WebKitWebDriver"
    driver_proc = procs.start(
        ["tauri-driver", "--port", str(port), "--native-port", str(native), "--native-driver", wd],
        open(logs / "tauri-driver.log", "w"), env=env,
    )
    wait_port(port, driver_proc, "tauri-driver")
    # tauri-driver answers before its WebKitWebDriver child listens; a session asked for in
    # between fails with "client error (Connect)".
    wait_port(native, driver_proc, "WebKitWebDriver (started by tauri-driver)")
    return port


def launch_app(port, app, logs):
    """Starts the app through tauri-driver; its WebDriver session."""
    opts = ArgOptions()
    opts.set_capability("browserName", "wry")
    opts.set_capability("tauri:options", {"application": app})
    try:
        return webdriver.Remote(command_executor=f"http://127.0.0.1:{port}", options=opts)
    except WebDriverException as e:
        raise SystemExit(f"tauri-driver could not start the app: {e.msg}\n(see {logs}/tauri-driver.log)")


def phone_browser(tmp, logs, hosts=("127.0.0.1",)):
    """Headless Chromium as a phone; only `hosts` resolve, so nothing else is ever reached."""
    opts = webdriver.ChromeOptions()
    opts.binary_location = shutil.which("chromium") or "/usr/bin/chromium"
    for flag in [
        "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run",
        "--disable-component-update", "--disable-sync", "--disable-default-apps", "--disable-extensions",
        "--disable-domain-reliability", "--disable-client-side-phishing-detection", "--no-default-browser-check",
        "--host-resolver-rules=MAP * ~NOTFOUND, " + ", ".join("EXCLUDE " + h for h in hosts),
        f"--user-data-dir={tmp / 'chromium'}",
    ]:
        opts.add_argument(flag)
    # The phone's WebSocket frames, read back with get_log("performance") (what reached it).
    opts.set_capability("goog:loggingPrefs", {"performance": "ALL"})
    opts.add_experimental_option("mobileEmulation", {
        "deviceMetrics": {"width": 390, "height": 844, "pixelRatio": 2.0, "touch": True, "mobile": True},
        "userAgent": "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Mobile Safari/537.36",
    })
    service = ChromeService(executable_path=shutil.which("chromedriver") or "/usr/bin/chromedriver",
                            log_output=str(logs / "chromedriver.log"))
    return webdriver.Chrome(options=opts, service=service)


def write_wav(path, seconds, rate=8000, cover=None):
    """A mono 16-bit PCM WAV of silence, header written by hand (what media.rs shares and the
    desktop reads the duration of); with `cover` (PNG bytes), an `id3 ` chunk holding an ID3v2.3
    tag whose one frame is that picture as the front cover (APIC), as taggers write it into
    WAV files: the library lists the item with its cover, its title still the file's name."""
    import struct
    data = bytes(2 * rate * seconds)
    fmt = b"fmt " + struct.pack("<IHHIIHH", 16, 1, 1, rate, rate * 2, 2, 16)
    chunks = fmt + b"data" + struct.pack("<I", len(data)) + data
    if cover is not None:
        apic = b"\x00" + b"image/png\x00" + b"\x03" + b"\x00" + cover
        frames = b"APIC" + struct.pack(">I", len(apic)) + b"\x00\x00" + apic
        n = len(frames)  # the tag's size is syncsafe: 7 bits a byte
        tag = b"ID3\x03\x00\x00" + bytes(((n >> 21) & 0x7F, (n >> 14) & 0x7F, (n >> 7) & 0x7F, n & 0x7F)) + frames
        chunks += b"id3 " + struct.pack("<I", len(tag)) + tag + (b"\x00" if len(tag) % 2 else b"")
    path.write_bytes(b"RIFF" + struct.pack("<I", 4 + len(chunks)) + b"WAVE" + chunks)


def png_bytes(width=320, height=240):
    """The PNG write_png writes, as bytes (a WAV's cover)."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "cover.png"
        write_png(path, width, height)
        return path.read_bytes()


def write_png(path, width=320, height=240):
    """A real RGB PNG (a colour gradient with a white diagonal stripe), written by hand with zlib:
    what a guest's phone shares and the host screen's Photos card shows."""
    import struct
    import zlib
    rows = bytearray()
    for y in range(height):
        rows.append(0)  # filter: none
        for x in range(width):
            if abs(x - y * width / height) < 12:
                rows += b"\xff\xff\xff"
            else:
                rows += bytes((255 * x // width, 200 * y // height, 255 - 255 * x // width))

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(bytes(rows))) + chunk(b"IEND", b""))


LIBRARY_ITEM_JS = (
    "const title = arguments[0];"
    "const row = Array.from(document.querySelectorAll('[data-testid=\"sp-library-item\"]')).find("
    "  (li) => li.querySelector('[data-testid=\"sp-item-title\"]').textContent === title) || null;")


def library_item(driver, title):
    """The SyncPlay panel's library row titled `title` (looked up in the page: it re-renders)."""
    return driver.execute_script(LIBRARY_ITEM_JS + "return row;", title)


def library_duration(driver, title):
    """The length the library row titled `title` shows (found and read in one go: the panel
    re-renders its rows every 3 s)."""
    return driver.execute_script(
        LIBRARY_ITEM_JS + "return row && row.querySelector('[data-testid=\"sp-item-duration\"]').textContent;", title)


def sync_row(driver, name):
    """The SyncPlay panel's row for member `name`, as {kind, state, error} (None if absent)."""
    return driver.execute_script(
        "for (const li of document.querySelectorAll('[data-testid=\"sp-member\"]'))"
        "  if (li.querySelector('[data-testid=\"sp-member-name\"]').textContent === arguments[0]) return {"
        "    kind: li.dataset.kind, errorMs: li.dataset.errorMs || null,"
        "    state: li.querySelector('[data-testid=\"sp-member-state\"]').textContent,"
        "    error: li.querySelector('[data-testid=\"sp-member-error\"]').textContent};"
        "return null;", name)


def ws_frames_received(phone):
    """The JSON messages the phone's page received over WebSockets since the last call."""
    frames = []
    for entry in phone.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message.get("method") == "Network.webSocketFrameReceived":
            try:
                frames.append(json.loads(message["params"]["response"]["payloadData"]))
            except (KeyError, ValueError):
                pass
    return frames


# A second guest, Tess: a bare partyline/1 member on a WebSocket of its own in the phone's
# browser. Once welcomed it says it is away ("getting napkins"); it marks every notification
# read as it arrives; a heartbeat keeps it connected.
TESS_JS = """
const [wsUrl, sessionId] = arguments;
const t = window.__tess = { msgs: [] };
const send = (m) => t.ws.send(JSON.stringify(Object.assign({ timestamp: Date.now() }, m)));
t.ws = new WebSocket(wsUrl);
t.ws.onopen = () => {
  send({ type: 'join', sessionId, protocolVersion: 'partyline/1',
         deviceInfo: { id: 'e2e-tess', name: 'Tess', type: 'client' } });
  t.beat = setInterval(() => send({ type: 'heartbeat' }), 3000);
};
t.ws.onmessage = (e) => {
  const m = JSON.parse(e.data);
  t.msgs.push(m);
  if (m.type === 'welcome') send({ type: 'presence', status: 'away', text: 'getting napkins' });
  if (m.type === 'notification') send({ type: 'mark_read', ids: [m.id] });
};
"""


# A third guest, Omar: a bare partyline/1 member on a WebSocket of its own in the phone's browser.
# Once welcomed it says a line in the chat, and when its own line comes back it edits it.
OMAR_JS = """
const [wsUrl, sessionId] = arguments;
const o = window.__omar = { msgs: [] };
const send = (m) => o.ws.send(JSON.stringify(Object.assign({ timestamp: Date.now() }, m)));
o.ws = new WebSocket(wsUrl);
o.ws.onopen = () => {
  send({ type: 'join', sessionId, protocolVersion: 'partyline/1',
         deviceInfo: { id: 'e2e-omar', name: 'Omar', type: 'client' } });
  o.beat = setInterval(() => send({ type: 'heartbeat' }), 3000);
};
o.ws.onmessage = (e) => {
  const m = JSON.parse(e.data);
  o.msgs.push(m);
  if (m.type === 'welcome') send({ type: 'chat', text: 'speaker is on the balcny' });
  if (m.type === 'chat' && m.name === 'Omar' && !o.edited) {
    o.edited = true;
    send({ type: 'chat.edit', id: m.id, text: 'The speaker is on the balcony' });
  }
};
"""


# A guest whose phone cannot play the song: a bare partyline/1 member that reports `error` for
# whatever the group plays, with an error of 0 ms (what the host's row once showed as "±0.0 ms").
RUI_JS = """
const [wsUrl, sessionId] = arguments;
const r = window.__rui = { reported: 0 };
const send = (m) => r.ws.send(JSON.stringify(Object.assign({ timestamp: Date.now() }, m)));
r.ws = new WebSocket(wsUrl);
r.ws.onopen = () => {
  send({ type: 'join', sessionId, protocolVersion: 'partyline/1', player: true,
         deviceInfo: { id: 'e2e-rui', name: 'Rui', type: 'client' } });
  r.beat = setInterval(() => {
    send({ type: 'heartbeat' });
    if (r.entryId) { send({ type: 'playback.progress', entryId: r.entryId, position: 0, state: 'error', error: 0 }); r.reported++; }
  }, 1000);
};
r.ws.onmessage = (e) => {
  const m = JSON.parse(e.data);
  if (m.type === 'syncplay.state' && m.entryId) r.entryId = m.entryId;
};
"""


# Guests for the party screen: bare partyline/1 members on WebSockets of their own in the phone's
# browser, one per name, each heartbeating; `talkers` say one line in the chat once welcomed.
# One after another (the next once the last is welcomed): the host takes 16 unfinished HTTP
# connections per address, and 27 upgrades at once would shed some.
GUESTS_JS = """
const [wsUrl, sessionId, names, talkers] = arguments;
const g = window.__guests = window.__guests || { list: [] };
const next = (i) => {
  if (i >= names.length) return;
  const name = names[i];
  const m = { name, welcomed: false, refused: null };
  const send = (x) => m.ws.send(JSON.stringify(Object.assign({ timestamp: Date.now() }, x)));
  const device = 'e2e-guest-' + g.list.length;
  m.ws = new WebSocket(wsUrl);
  m.ws.onopen = () => {
    send({ type: 'join', sessionId, protocolVersion: 'partyline/1', deviceInfo: { id: device, name, type: 'client' } });
    m.beat = setInterval(() => send({ type: 'heartbeat' }), 3000);
  };
  m.ws.onmessage = (e) => {
    const x = JSON.parse(e.data);
    if (x.type === 'welcome' && !m.welcomed) {
      m.welcomed = true;
      if (talkers[name]) send({ type: 'chat', text: talkers[name] });
      next(i + 1);
    }
    if (x.type === 'error') m.refused = x.code || 'error';
  };
  m.ws.onclose = () => { if (!m.welcomed) next(i + 1); };
  g.list.push(m);
};
next(0);
"""

# Who comes to the party screen's party, in the order they arrive.
GUEST_NAMES = ["Sara Lee", "Omar", "Tess", "Jun Park", "Amélie", "Noor", "Kai", "Zoë Adams", "Ravi", "Lena",
               "Mateo Cruz", "Ines", "Yuki", "Ben", "Priya Shah", "Olu", "Hana", "Felix", "Maya", "Tom Berg",
               "Ada", "Leo", "Nina Ray", "Sam", "Ivy", "Max Stone", "Ava", "Eli", "Rosa", "Finn"]
# (No emoji: the test machine has no emoji font, and the screenshots would show empty boxes.)
TALKERS = {"Sara Lee": "Who has the aux cable?", "Omar": "Pizza is in the kitchen", "Tess": "Happy birthday, Jun!"}


def wall_names(driver):
    return driver.execute_script(
        "return Array.from(document.querySelectorAll('[data-testid=\"guest-name\"]')).map((e) => e.textContent)")


def chat_lines(driver):
    """The host screen's chat card, oldest first: [{id, name, text, edited, deleted}]."""
    return driver.execute_script(
        "return Array.from(document.querySelectorAll('[data-testid=\"chat-line\"]')).map((li) => ({"
        "  id: li.dataset.id, name: li.querySelector('[data-testid=\"chat-name\"]').textContent,"
        "  text: li.querySelector('[data-testid=\"chat-text\"]').textContent,"
        "  edited: li.hasAttribute('data-edited'), deleted: li.hasAttribute('data-deleted'),"
        "  shownDeleted: !li.querySelector('[data-testid=\"chat-deleted\"]').hidden }));")


def chat_row(driver, line_id):
    return driver.find_element(By.CSS_SELECTOR, f'[data-testid="chat-line"][data-id="{line_id}"]')


def if_displayed(element):
    return element if element.is_displayed() else None


def point_and_click(driver, element):
    """A real pointer click (WebDriver actions: the pointer moves onto the element, presses and
    releases), not the page's scripted click."""
    ActionChains(driver).move_to_element(element).pause(0.1).click().perform()


def announcement(driver, title):
    """The Announce card's entry titled `title`, as {level, reads, count, readers} (None if absent)."""
    return driver.execute_script(
        "for (const li of document.querySelectorAll('[data-testid=\"announcement\"]'))"
        "  if (li.querySelector('[data-testid=\"announcement-title\"]').textContent === arguments[0]) {"
        "    const r = li.querySelector('[data-testid=\"announcement-reads\"]');"
        "    return {level: li.dataset.level, reads: r.textContent, count: Number(r.dataset.count), readers: r.title}; }"
        "return null;", title)


# The nearest box that scrolls `arguments[0]` (the host controls, the chat): never the page.
SCROLLER_JS = """
let v = arguments[0].parentElement;
while (v && v !== document.body && !/(auto|scroll)/.test(getComputedStyle(v).overflowY)) v = v.parentElement;
return v && v !== document.body ? v : null;
"""


def scroll_to(driver, testid):
    """Scrolls the box that holds `testid` (the host controls; not the page) so it is at its top."""
    driver.execute_script(
        "const e = document.querySelector('[data-testid=\"' + arguments[0] + '\"]');"
        "const v = (function () {" + SCROLLER_JS + "}).call(null, e);"
        "if (v) v.scrollTop += e.getBoundingClientRect().top - v.getBoundingClientRect().top - 12;", testid)


def centre_in_scroller(driver, element):
    """Scrolls the box that holds `element` so it is in that box's middle (as a person scrolls
    to reach it); the page itself is never scrolled."""
    driver.execute_script(
        "const e = arguments[0]; const v = (function () {" + SCROLLER_JS + "}).call(null, e);"
        "if (v) { const r = e.getBoundingClientRect(), b = v.getBoundingClientRect();"
        "  v.scrollTop += (r.top + r.height / 2) - (b.top + b.height / 2); }", element)


def text(driver, testid):
    """An element's words as the DOM has them, shown or not (the party line, with the host
    controls open, is in the DOM but not on screen)."""
    return driver.execute_script(
        "const e = document.querySelector('[data-testid=\"' + arguments[0] + '\"]'); return e ? e.textContent : null;", testid)


def controls(driver, open_):
    """Opens or closes the host controls with the pointer (the top bar's "Host controls")."""
    toggle = by_testid(driver, "controls-toggle")
    if (toggle.get_attribute("aria-expanded") == "true") != open_:
        point_and_click(driver, toggle)
    until(driver, f"the host controls {'open' if open_ else 'closed'}",
          lambda d: bool(visible(d, "controls-panel")) == open_ and bool(visible(d, "screen-side")) != open_)


# What the page itself shows of its scrolling after a click: it must never move (issue 18's
# blank window: a focused switch scrolled the page 2,674 px and nothing scrolled it back).
PAGE_SCROLL_JS = """
const top = document.querySelector('.topbar').getBoundingClientRect();
const card = document.querySelector('[data-testid="qr-card"]').getBoundingClientRect();
return {scrollTop: document.scrollingElement.scrollTop, scrollY: window.scrollY,
        topbar: top.top, card: card.top, cardShown: !document.getElementById('host-running').hidden,
        scrollHeight: document.scrollingElement.scrollHeight, innerHeight: innerHeight};
"""


def page_still(driver, what):
    """Asserts the page has not scrolled: the top bar at the top, the QR card in view."""
    painted(driver)
    got = driver.execute_script(PAGE_SCROLL_JS)
    ok = got["scrollTop"] == 0 and got["scrollY"] == 0 and got["topbar"] == 0 and (
        not got["cardShown"] or 0 <= got["card"] < got["innerHeight"])
    assert ok, f"after {what}: expected the page unscrolled (scrollTop 0, top bar at 0, QR card in view), got {got}"
    return got


def set_size(driver, size):
    """The window's size (tauri-driver moves the app's own window); waits until the page has it."""
    driver.set_window_rect(0, 0, size[0], size[1])
    until(driver, f"the page at {size[0]}x{size[1]}",
          lambda d: d.execute_script("return [innerWidth, innerHeight]") == list(size))
    painted(driver)


# The party screen measured: the QR code's rendered size against its module count (the SVG's
# viewBox counts modules, quiet zone included), the room code's font size, what would scroll.
SCREEN_JS = """
const svg = document.querySelector('[data-testid="qr"] svg');
const r = svg.getBoundingClientRect(), vb = svg.viewBox.baseVal;
const card = document.querySelector('[data-testid="qr-card"]').getBoundingClientRect();
const wall = document.querySelector('[data-testid="guest-wall"]');
const side = document.querySelector('[data-testid="screen-side"]');
return {qrPx: r.width, modules: vb.width, pxPerModule: r.width / vb.width,
        qrInView: r.top >= 0 && r.left >= 0 && r.bottom <= innerHeight && r.right <= innerWidth,
        cardInView: card.top >= 0 && card.bottom <= innerHeight + 0.5 && card.right <= innerWidth,
        roomCodePx: parseFloat(getComputedStyle(document.querySelector('[data-testid="room-code"]')).fontSize),
        scrollHeight: document.scrollingElement.scrollHeight, innerHeight: innerHeight,
        sideOverflows: side.scrollHeight > side.clientHeight + 1,
        shown: Number(wall.dataset.shown || 0), more: Number(wall.dataset.more || 0),
        tiles: wall.querySelectorAll('[data-testid="guest"]').length,
        state: document.querySelector('[data-testid="qr-state"]').hidden ? '' : document.querySelector('[data-testid="qr-state"]').textContent,
        name: document.querySelector('[data-testid="screen-name"]').textContent};
"""


def party_screens(driver, display, out, guests, join_url):
    """The party screen at each of SIZES, light and dark, screenshots party-<w>-<guests>-<theme>.png;
    at each: nothing scrolls, the QR card is whole in view, >= 8 px per module, a room code of
    64 px or more, every guest on the wall or counted in "+N more"; at 1366x768 (light) the QR
    code in the screenshot decodes to the join URL. Returns the measures, by size."""
    controls(driver, False)
    measured = {}
    for size in SIZES:
        set_size(driver, size)
        for theme in ("light", "dark"):
            driver.execute_script("document.documentElement.dataset.theme = arguments[0]", theme)
            until(driver, f"{guests} guests on the wall at {size}",
                  lambda d: (lambda m: m["shown"] + m["more"] == guests)(d.execute_script(SCREEN_JS)))
            m = driver.execute_script(SCREEN_JS)
            path = screenshot(display, out / f"party-{size[0]}-{guests}-{theme}.png", driver, size=size)
            where = f"the party screen at {size[0]}x{size[1]}, {theme}, {guests} guests ({path.name})"
            assert m["scrollHeight"] <= m["innerHeight"], f"{where}: the page scrolls: {m['scrollHeight']} px of {m['innerHeight']}"
            assert m["qrInView"] and m["cardInView"], f"{where}: the QR card is cut: {m}"
            assert m["pxPerModule"] >= MIN_PX_PER_MODULE, \
                f"{where}: expected >= {MIN_PX_PER_MODULE} px per QR module, got {m['pxPerModule']:.2f} ({m['qrPx']} px / {m['modules']} modules)"
            assert m["roomCodePx"] >= MIN_ROOM_CODE_PX, f"{where}: expected a room code >= {MIN_ROOM_CODE_PX} px, got {m['roomCodePx']}"
            assert m["shown"] + m["more"] == guests and m["tiles"] == m["shown"], f"{where}: the wall: {m}"
            page_still(driver, where)
            if size == SIZES[0] and theme == "light":
                codes = decode_qr(path)
                assert codes == [join_url], f"{where}: expected the QR code to decode to {join_url}, got {codes}"
            measured[size] = m
    driver.execute_script("delete document.documentElement.dataset.theme")
    set_size(driver, SIZES[0])
    return measured


# Every switch and button the host view shows, clicked as a person would, except those with an
# effect of their own tested elsewhere: stopping, a new key, New party and Choose… (the native
# folder dialog; both in test_party_outlives_the_app), the big QR code (an overlay over
# everything), and the buttons of a second step (kick's Remove, a chat line's Delete).
SWEEP_SKIP = {"stop-button", "new-key-button", "new-party-button", "sp-folder-choose", "qr", "kick-confirm",
              "kick-cancel", "chat-delete", "chat-delete-yes", "chat-delete-no", "unban-button", "sp-start-anyway",
              "controls-close"}
# Clicked twice, so that the party is as it was: the switches (lock, uploads, guests' music
# controls) and Kick (it opens its form, then closes it).
SWEEP_TWICE = {"kick-button"}


def click_everything(driver, what):
    """Clicks every shown switch and button of the host view with real pointer events (each
    scrolled into the middle of its own box first), asserting after each click that the page
    has not scrolled. Returns how many clicks."""
    targets = driver.execute_script("""
        const out = [];
        for (const e of document.querySelectorAll('#host-running button, #host-running label.switch')) {
          const r = e.getBoundingClientRect();
          if (!r.width || !r.height || e.closest('[hidden]')) continue;
          const id = e.dataset.testid || (e.querySelector('input') && e.querySelector('input').dataset.testid) || '';
          if (arguments[0].includes(id)) continue;
          out.push([e, id, e.classList.contains('switch'), (e.textContent || '').trim().slice(0, 40)]);
        }
        return out;""", sorted(SWEEP_SKIP))
    clicks = 0
    for element, testid, is_switch, label in targets:
        try:
            if not element.is_displayed():
                continue
        except StaleElementReferenceException:
            continue  # re-rendered (a library row): its replacement is clicked on the next pass
        for _ in range(2 if is_switch or testid in SWEEP_TWICE else 1):
            centre_in_scroller(driver, element)
            try:
                point_and_click(driver, element)
            except WebDriverException as err:
                raise AssertionError(f"{what}: a pointer click on {testid or label!r} failed: {err.msg}") from err
            clicks += 1
            page_still(driver, f"{what}: a pointer click on {testid or label!r}")
    return clicks



def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--app", required=True, help="the partyline-desktop binary")
    ap.add_argument("--out", required=True, help="directory for screenshots and logs")
    ap.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = ap.parse_args()
    app = str(Path(args.app).resolve())
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob("*.png"):
        old.unlink()
    logs = out / "logs"
    logs.mkdir(exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix="partyline-e2e-"))
    procs = Procs()
    desktop = phone = display = None
    try:
        display = start_xvfb(procs, logs)
        env = dict(os.environ)
        # The app itself turns WebKitGTK's DMABuf renderer off when there is no GPU (/dev/dri),
        # as here; the frame-rate check below fails if it does not.
        for k in ("WAYLAND_DISPLAY", "DBUS_SESSION_BUS_ADDRESS", "WEBKIT_DISABLE_DMABUF_RENDERER"):
            env.pop(k, None)
        env.update({
            "DISPLAY": display,
            "GDK_BACKEND": "x11",
            "NO_AT_BRIDGE": "1",
            "PARTYLINE_BIND": "127.0.0.1",
            "PARTYLINE_NO_MDNS": "1",
            "XDG_CONFIG_HOME": str(tmp / "config"),
            "XDG_DATA_HOME": str(tmp / "data"),
            "XDG_CACHE_HOME": str(tmp / "cache"),
            "RUST_LOG": "warn,partyline_desktop=info",
        })
        step(f"display {display}; temporary files in {tmp}")

        # ---- 0. the desktop app as a user expects it (each with its own data dir) ---------------
        test_one_instance(app, display, env, tmp, logs, out, procs)
        test_party_outlives_the_app(app, display, env, tmp, logs, out, procs)
        test_fits_a_small_screen(app, env, tmp, logs, out, procs)

        # ---- 1. launched as a person would: is the QR code on screen readable? -------------------
        p = procs.start([app], open(logs / "app-direct.log", "w"), env=env)
        codes = wait_for_qr(display, out / "01-launch.png")
        assert len(codes) == 1, codes
        url = codes[0]
        assert url.startswith("http://127.0.0.1:") and "#k=" in url, url
        info = api_info(url)
        procs.stop(p)
        try:
            api_info(url)
            raise AssertionError("the app still answers after SIGTERM")
        except OSError:
            pass
        step(f"launched: QR on screen decodes to {url}; /api/info said {info['name']!r}; gone after SIGTERM")

        # ---- 2. through WebDriver -----------------------------------------------------------------
        desktop = launch_app(start_tauri_driver(procs, logs, env), app, logs)
        step("app started through tauri-driver + WebKitWebDriver")
        # A stalled display link renders no frames at all; a busy first second after launch (the
        # page loading, on a machine shared with builds) renders fewer than 60, 17 seen here.
        frames = desktop.execute_async_script(
            "const done = arguments[arguments.length - 1]; let n = 0;"
            "const f = () => { n++; requestAnimationFrame(f); }; requestAnimationFrame(f);"
            "setTimeout(() => done(n), 2000);"
        )
        assert frames >= 10, f"the web view rendered {frames} frames in two seconds: its display link is stalled"

        until(desktop, "the QR code", lambda d: d.find_elements(By.CSS_SELECTOR, '[data-testid="qr"] svg'))
        join_url = by_testid(desktop, "join-url").text
        room_code = by_testid(desktop, "room-code").text
        codes = wait_for_qr(display, out / "02-host.png", expect=join_url)
        assert len(room_code) == 5 and room_code.isalnum(), room_code
        assert by_testid(desktop, "host-status").text == "Hosting"
        step(f"host screen: QR decodes to the join URL shown ({join_url}), room code {room_code}")

        # The party screen, empty, at a laptop's size and a TV's, light and dark.
        m = party_screens(desktop, display, out, 0, join_url)
        assert desktop.title == text(desktop, "screen-name") + " · Partyline", \
            f"the window's title: expected the party's name, got {desktop.title!r}"
        step("party screen, 0 guests: " + "; ".join(
            f"{w}x{h}: QR {v['qrPx']:.0f} px, {v['pxPerModule']:.1f} px per module ({v['modules']:.0f} with the quiet zone), "
            f"room code {v['roomCodePx']:.0f} px" for (w, h), v in m.items()) + f"; title {desktop.title!r}")

        # The phone scans it.
        phone = phone_browser(tmp, logs)
        phone.get(codes[0])
        name = until(phone, "the phone's join screen", lambda d: visible(d, "name-input"))
        name.send_keys("Sara")
        by_testid(phone, "join-button").click()
        until(phone, "the phone to be connected",
              lambda d: visible(d, "screen-party") and by_testid(d, "connection-state").get_attribute("data-state") == "connected")
        phone.save_screenshot(str(out / "03-phone-joined.png"))
        step("phone: opened the decoded URL, joined as Sara, connected")

        until(desktop, "Sara on the party screen's guest wall", lambda d: d.execute_script(
            "return Array.from(document.querySelectorAll('[data-testid=\"guest-name\"]')).map((e) => e.textContent)") == ["Sara"])
        screenshot(display, out / "04-party-screen-sara.png", desktop, size=SIZES[0])
        controls(desktop, True)
        row = until(desktop, "Sara in the app's guest list", lambda d: member_row(d, "Sara"))
        status = row.find_element(By.CSS_SELECTOR, '[data-testid="member-status"]').text
        assert status == "connected", status
        assert "joined" in row.find_element(By.CSS_SELECTOR, '[data-testid="member-joined"]').text
        # The phone's Pixel 8 User-Agent, as the host names it.
        device = row.find_element(By.CSS_SELECTOR, '[data-testid="member-device"]').text
        assert device == "Android phone", f"Sara's device: {device!r}"
        until(desktop, "a latency for Sara",
              lambda d: (member_row(d, "Sara").find_element(By.CSS_SELECTOR, '[data-testid="member-latency"]').text or "—") != "—",
              timeout=15)
        until(desktop, "the guest count", lambda d: "1 guest of 100" in text(d, "party-meta"))
        screenshot(display, out / "04-host-with-member.png", desktop, size=SIZES[0])
        step("app: Sara is listed (connected, Android phone, with latency and time joined)")

        # Kick: the button asks for the reason the guest is told (and whether to keep it out).
        member_row(desktop, "Sara").find_element(By.CSS_SELECTOR, '[data-testid="kick-button"]').click()
        form = until(desktop, "the kick form", lambda d: member_row(d, "Sara").find_element(By.CSS_SELECTOR, '[data-testid="kick-form"]')
                     if member_row(d, "Sara").find_element(By.CSS_SELECTOR, '[data-testid="kick-form"]').is_displayed() else None)
        form.find_element(By.CSS_SELECTOR, '[data-testid="kick-reason"]').send_keys("Too loud, sorry")
        screenshot(display, out / "04k-host-kick-form.png", desktop, size=SIZES[0])
        form.find_element(By.CSS_SELECTOR, '[data-testid="kick-confirm"]').click()
        until(phone, "the phone's kicked screen", lambda d: visible(d, "screen-kicked"))
        shown = by_testid(phone, "ending-reason").text
        assert shown == "The host said: “Too loud, sorry”", f"the reason on the phone: {shown!r}"
        phone.save_screenshot(str(out / "05-phone-kicked.png"))
        until(desktop, "Sara gone from the list", lambda d: member_row(d, "Sara") is None)
        assert visible(desktop, "members-empty")
        step("app kicked Sara: the phone shows the kicked screen; the list is empty again")

        # Lock from the app: the phone cannot come back.
        by_testid(desktop, "lock-toggle").find_element(By.XPATH, "..").click()
        until(desktop, "the locked pill", lambda d: by_testid(d, "host-status").text == "Hosting · locked")
        assert text(desktop, "qr-state") == "Locked — nobody new can join", text(desktop, "qr-state")
        assert json.loads(urllib.request.urlopen(join_url.split("#")[0] + "api/info", timeout=5).read())["locked"] is True
        by_testid(phone, "rejoin-button").click()
        until(phone, "the join screen", lambda d: visible(d, "join-button"))
        by_testid(phone, "join-button").click()
        until(phone, "the phone's locked screen", lambda d: visible(d, "screen-locked"))
        phone.save_screenshot(str(out / "06-phone-locked.png"))
        by_testid(desktop, "lock-toggle").find_element(By.XPATH, "..").click()
        until(desktop, "unlocked", lambda d: by_testid(d, "host-status").text == "Hosting")
        step("lock: the phone was refused while locked; unlocked again")

        # Rename and capacity from the page.
        field = by_testid(desktop, "party-name")
        field.clear()
        field.send_keys("Rooftop")
        by_testid(desktop, "rename-button").click()
        cap = by_testid(desktop, "capacity-input")
        whole = "Most guests: a whole number from 1 to 10000."
        for typed in ("-5", "2.5", "abc", "0"):
            cap.clear()
            cap.send_keys(typed)
            by_testid(desktop, "capacity-button").click()
            until(desktop, f"the capacity message for {typed!r}",
                  lambda d: visible(d, "capacity-error") and by_testid(d, "capacity-error").text == whole)
            assert "of 100" in text(desktop, "party-meta"), f"{typed!r} changed nothing: {text(desktop, 'party-meta')}"
        cap.clear()
        cap.send_keys("12")
        by_testid(desktop, "capacity-button").click()
        until(desktop, "renamed and 12 places", lambda d: "of 12" in text(d, "party-meta") and d.title.startswith("Rooftop"))
        assert not visible(desktop, "capacity-error")
        assert desktop.title == "Rooftop · Partyline", f"the window's title: {desktop.title!r}"
        step(f"rename and capacity from the page; '-5', '2.5', 'abc' and '0' each say {whole!r}; the title says Rooftop")

        # Join the app's own party from its Browse tab: ui/shared/client.js in the web view.
        by_testid(desktop, "tab-browse").click()
        until(desktop, "the browse tab", lambda d: visible(d, "browse-empty"))
        screenshot(display, out / "07-browse.png", desktop, size=SIZES[0])
        local = join_url.split("//", 1)[1].split("/", 1)[0]
        by_testid(desktop, "join-address").send_keys(local)
        by_testid(desktop, "join-code").send_keys(room_code)
        by_testid(desktop, "join-name").send_keys("Desk")
        by_testid(desktop, "join-button").click()
        until(desktop, "joined as a member", lambda d: visible(d, "browse-joined") and by_testid(d, "joined-status").text == "Connected")
        until(desktop, "the joined party's members",
              lambda d: len(d.find_elements(By.CSS_SELECTOR, '[data-testid="joined-member"]')) == 2)
        assert by_testid(desktop, "joined-name").text == "Rooftop"
        screenshot(display, out / "08-browse-joined.png", desktop, size=SIZES[0])
        by_testid(desktop, "tab-host").click()
        row = until(desktop, "Desk in the host's list", lambda d: member_row(d, "Desk"))
        # The web view is told by its tauri:// Origin (its WebKitGTK User-Agent just says Linux).
        device = row.find_element(By.CSS_SELECTOR, '[data-testid="member-device"]').text
        assert device == "Partyline desktop", f"Desk's device: {device!r}"
        step("Browse tab: joined the own party with its room code; listed as a guest on the host tab (Partyline desktop)")

        # Dark mode (the OS setting, forced): the QR code stays black on white and readable.
        desktop.execute_script("document.documentElement.dataset.theme = 'dark'")
        wait_for_qr(display, out / "09-host-dark.png", expect=join_url)
        desktop.execute_script("delete document.documentElement.dataset.theme")
        step("dark theme: QR code still decodes")

        # Big QR.
        by_testid(desktop, "qr").click()
        until(desktop, "the full-window QR code", lambda d: visible(d, "qr-big"))
        wait_for_qr(display, out / "10-qr-full-window.png", expect=join_url)
        by_testid(desktop, "qr-big").click()
        until(desktop, "the full-window QR code to close", lambda d: not visible(d, "qr-big"))
        step("full-window QR code decodes")
        info_now = api_info(join_url)

        # SyncPlay: share a folder (the party goes on), play a WAV on the phone, see its sync.
        media = tmp / "media"
        media.mkdir()
        write_wav(media / "Quiet hour.wav", seconds=60, cover=png_bytes(96, 96))
        scroll_to(desktop, "syncplay-panel")
        folder = by_testid(desktop, "sp-folder")
        folder.clear()
        folder.send_keys(str(media))
        # The panel re-reads itself every 3 s: what is typed stays, focused and then not.
        time.sleep(4)
        assert folder.get_attribute("value") == str(media), f"typed, focused, 4 s: expected {str(media)!r}, got {folder.get_attribute('value')!r}"
        point_and_click(desktop, desktop.find_element(By.CSS_SELECTOR, '[data-testid="syncplay-panel"] h2'))
        assert desktop.execute_script("return document.activeElement") != folder, "the field lost focus"
        time.sleep(4)
        assert folder.get_attribute("value") == str(media), f"typed, not focused, 4 s: expected {str(media)!r}, got {folder.get_attribute('value')!r}"
        assert "Not shared yet" in by_testid(desktop, "sp-folder-note").text, by_testid(desktop, "sp-folder-note").text
        by_testid(desktop, "sp-folder-set").click()
        until(desktop, "the WAV in the library", lambda d: library_item(d, "Quiet hour"))
        duration = library_duration(desktop, "Quiet hour")
        assert duration == "1:00", duration
        # Its cover, from the app's cover: scheme, loaded (a picture with a size) in its row.
        until(desktop, "the WAV's cover in its library row", lambda d: d.execute_script(
            LIBRARY_ITEM_JS + "const img = row && row.querySelector('[data-testid=\"sp-item-cover\"]');"
            "return !!img && img.complete && img.naturalWidth === 96;", "Quiet hour"))
        assert api_info(join_url)["sessionId"] == info_now["sessionId"], "sharing a folder keeps the party"
        saved = json.loads((tmp / "config" / "org.partyline.desktop" / "settings.json").read_text())
        assert saved.get("mediaFolder") == str(media), saved
        # The phone was refused while locked: it joins again.
        phone.get("about:blank")
        phone.get(join_url)
        name = until(phone, "the phone's join screen", lambda d: visible(d, "name-input"))
        name.clear()
        name.send_keys("Sara")
        by_testid(phone, "join-button").click()
        until(phone, "the phone to be connected",
              lambda d: visible(d, "screen-party") and by_testid(d, "connection-state").get_attribute("data-state") == "connected")
        until(phone, "the library on the phone", lambda d: "1" in by_testid(d, "library-count").text)
        desktop.execute_script(LIBRARY_ITEM_JS + "row.querySelector('[data-testid=\"sp-item-play\"]').click();", "Quiet hour")
        until(desktop, "waiting or playing", lambda d: by_testid(d, "syncplay-panel").get_attribute("data-state") in ("waiting", "playing"))
        # Desk (the Browse tab's client) never loads media: the start waits for it until the host
        # starts anyway (or the 8 s timeout).
        if visible(desktop, "sp-start-anyway"):
            until(phone, "the phone ready", lambda d: by_testid(d, "now-playing").get_attribute("data-status") in ("ready", "blocked", "playing"))
            try:
                by_testid(desktop, "sp-start-anyway").click()
            except WebDriverException:
                pass  # it started on its own in between
        until(desktop, "playing", lambda d: by_testid(d, "syncplay-panel").get_attribute("data-state") == "playing")
        if visible(phone, "enable-sound"):
            by_testid(phone, "enable-sound").click()  # a tap: the browser's autoplay rule
        until(phone, "the phone playing", lambda d: by_testid(d, "np-title").text == "Quiet hour"
              and by_testid(d, "now-playing").get_attribute("data-status") == "playing", timeout=WAIT)
        until(desktop, "Sara's error against the group in the panel", lambda d: ((sync_row(d, "Sara") or {}).get("errorMs")))
        try:
            until(desktop, "Sara in sync", lambda d: sync_row(d, "Sara")["kind"] == "inSync", timeout=WAIT)
        except AssertionError:
            pass  # reported below as it is
        row = sync_row(desktop, "Sara")
        shown = (row["state"], row["error"], by_testid(desktop, "sp-summary").text)
        assert row["error"].endswith(" ms"), shown
        # The host turns Sara's phone down from her row (remote.command): her player follows.
        desktop.execute_script(
            "for (const li of document.querySelectorAll('[data-testid=\"sp-member\"]'))"
            "  if (li.querySelector('[data-testid=\"sp-member-name\"]').textContent === 'Sara') {"
            "    const v = li.querySelector('[data-testid=\"sp-member-volume\"]');"
            "    v.value = '30'; v.dispatchEvent(new Event('change')); }")
        until(phone, "the phone's player at 30 %",
              lambda d: abs(d.execute_script("return document.getElementById('np-media').volume") - 0.3) < 1e-6)
        phone.save_screenshot(str(out / "10s-phone-syncplay.png"))
        scroll_to(desktop, "syncplay-panel")  # the guest list grew since
        screenshot(display, out / "10s-syncplay.png", desktop, size=SIZES[0])
        desktop.execute_script("document.documentElement.dataset.theme = 'dark'")
        screenshot(display, out / "10s-syncplay-dark.png", desktop, size=SIZES[0])
        desktop.execute_script("delete document.documentElement.dataset.theme")
        # Rui's phone cannot play it: the row says so, with no error figure (not "±0.0 ms").
        rui_url = "ws://" + join_url.split("//", 1)[1].split("/", 1)[0] + "/ws?token=" + join_url.split("#k=", 1)[1]
        phone.execute_script(RUI_JS, rui_url, info_now["sessionId"])
        rui = until(desktop, "Rui's row: cannot play", lambda d: (sync_row(d, "Rui") or {}).get("state") == "cannot play" and sync_row(d, "Rui"))
        assert rui["error"] == "—" and rui["errorMs"] is None, f"Rui cannot play: expected no error figure, got {rui}"
        screenshot(display, out / "10s-cannot-play.png", desktop, size=SIZES[0])
        phone.execute_script("clearInterval(window.__rui.beat);"
                             "window.__rui.ws.send(JSON.stringify({type: 'leave', timestamp: Date.now(), reason: 'done'}))")
        until(desktop, "Rui gone from the panel", lambda d: sync_row(d, "Rui") is None, timeout=WAIT)
        # The party screen says what plays, and how in sync the room is, in words.
        controls(desktop, False)
        until(desktop, "now playing on the party screen", lambda d: visible(d, "screen-now")
              and text(d, "screen-now-title") == "Quiet hour" and text(d, "screen-now-state") == "Playing")
        until(desktop, "the cover in now playing", lambda d: d.execute_script(
            "const img = document.getElementById('screen-now-cover');"
            "return !img.hidden && img.complete && img.naturalWidth === 96;"))
        now_sync = text(desktop, "screen-now-sync")
        screenshot(display, out / "10s-party-now-playing.png", desktop, size=SIZES[0])
        controls(desktop, True)
        by_testid(desktop, "sp-play").click()  # pause for everyone
        until(desktop, "paused", lambda d: by_testid(d, "syncplay-panel").get_attribute("data-state") == "paused")
        until(phone, "the phone paused", lambda d: by_testid(d, "now-playing").get_attribute("data-state") == "paused")
        desktop.execute_script("document.getElementById('controls-panel').scrollTo(0, 0)")
        step(f"SyncPlay: shared {media} (same party), played Quiet hour (1:00) on the phone; panel: Sara {shown[0]}, "
             f"{shown[1]}; summary {shown[2]!r}; Sara's volume set to 30 % from the panel, her player at 0.3; "
             f"Rui (cannot play) reads {rui['state']!r}, {rui['error']!r}; "
             f"the party screen: 'Quiet hour', Playing {now_sync!r}; paused")

        # Every switch and button, with the pointer, at 1366x768: the page never scrolls (the
        # blank window: a focused switch far down the controls scrolled the page away for good).
        assert desktop.execute_script("return [innerWidth, innerHeight]") == list(SIZES[0])
        controls(desktop, True)
        in_controls = click_everything(desktop, "the host controls")
        controls(desktop, False)
        on_screen = click_everything(desktop, "the party screen")
        point_and_click(desktop, by_testid(desktop, "controls-toggle"))
        page_still(desktop, "opening the host controls")
        desktop.execute_script("document.getElementById('controls-panel').scrollTo(0, 1e6)")  # the way back stays in view
        point_and_click(desktop, by_testid(desktop, "controls-close"))
        page_still(desktop, "closing the host controls")
        # Full screen with one key (the page's Fullscreen API), and back.
        ActionChains(desktop).send_keys("f").perform()
        until(desktop, "full screen", lambda d: d.execute_script("return !!document.fullscreenElement"))
        assert by_testid(desktop, "fullscreen-button").get_attribute("aria-pressed") == "true"
        page_still(desktop, "full screen (F)")
        ActionChains(desktop).send_keys("f").perform()
        until(desktop, "out of full screen", lambda d: d.execute_script("return !document.fullscreenElement"))
        set_size(desktop, SIZES[0])
        page_still(desktop, "leaving full screen (F)")
        controls(desktop, True)
        step(f"pointer sweep at {SIZES[0][0]}x{SIZES[0][1]}: {in_controls} clicks in the host controls, {on_screen} on the "
             f"party screen, each switch on and off: the page never scrolled; F went full screen and back")

        # Announce: Tess (a second partyline/1 guest in the phone's browser) goes away with words;
        # the host announces "Pizza is here" from the form; Sara's phone receives it, Tess marks it
        # read, and the card counts the read. An empty title is refused first (nothing sent).
        ws_frames_received(phone)  # forget what came before
        tess_url = "ws://" + join_url.split("//", 1)[1].split("/", 1)[0] + "/ws?token=" + join_url.split("#k=", 1)[1]
        phone.execute_script(TESS_JS, tess_url, info_now["sessionId"])
        until(desktop, "Tess in the guest list, away", lambda d: member_row(d, "Tess") is not None
              and member_row(d, "Tess").get_attribute("data-presence") == "away")
        row = member_row(desktop, "Tess")
        chip = row.find_element(By.CSS_SELECTOR, '[data-testid="member-presence"]').text
        assert chip == "away · getting napkins", f"Tess's presence: {chip!r}"
        scroll_to(desktop, "member-list")
        by_testid(desktop, "announce-send").click()
        until(desktop, "the empty-title error", lambda d: visible(d, "announce-error") and "title" in by_testid(d, "announce-error").text)
        assert not desktop.find_elements(By.CSS_SELECTOR, '[data-testid="announcement"]'), "nothing was sent"
        by_testid(desktop, "announce-title").send_keys("Pizza is here")
        by_testid(desktop, "announce-body").send_keys("In the kitchen, help yourselves")
        by_testid(desktop, "announce-send").click()
        until(desktop, "the announcement on the card", lambda d: announcement(d, "Pizza is here"))
        assert not visible(desktop, "announce-error")
        assert by_testid(desktop, "announce-title").get_attribute("value") == "", "the form is cleared"
        sara_got = until(phone, "the notification in Sara's phone's WebSocket frames",
                         lambda d: [m for m in ws_frames_received(d) if m.get("type") == "notification"] or None)
        assert (sara_got[0]["title"], sara_got[0]["body"], sara_got[0]["level"]) == \
            ("Pizza is here", "In the kitchen, help yourselves", "info"), sara_got
        # The phone page shows notifications once ui/phone has them (being added there): then
        # Sara sees it on screen too.
        phone_shows = bool(phone.find_elements(By.CSS_SELECTOR, '[data-testid="notifications"]'))
        if phone_shows:
            until(phone, "the notification on Sara's screen", lambda d: any(
                e.text == "Pizza is here" for e in d.find_elements(By.CSS_SELECTOR, '[data-testid="notification-title"]')))
            phone.save_screenshot(str(out / "10n-phone-notification.png"))
            # Sara dismisses it: her phone marks it read.
            by_testid(phone, "notification-dismiss").click()
        until(phone, "Tess got it", lambda d: d.execute_script(
            "return window.__tess.msgs.some((m) => m.type === 'notification' && m.title === 'Pizza is here')"))
        readers = 2 if phone_shows else 1
        shown = until(desktop, f"{readers} read(s) counted",
                      lambda d: (announcement(d, "Pizza is here") or {}).get("count") == readers and announcement(d, "Pizza is here"))
        assert "Tess" in shown["readers"] and ("Sara" in shown["readers"]) == phone_shows, shown
        screenshot(display, out / "10n-announce.png", desktop, size=SIZES[0])
        desktop.execute_script("document.documentElement.dataset.theme = 'dark'")
        screenshot(display, out / "10n-announce-dark.png", desktop, size=SIZES[0])
        desktop.execute_script("delete document.documentElement.dataset.theme")
        phone.execute_script("clearInterval(window.__tess.beat); window.__tess.ws.close(1000)")
        desktop.execute_script("document.getElementById('controls-panel').scrollTo(0, 0)")
        step(f"announce: an empty title refused; 'Pizza is here' sent, in Sara's phone's frames "
             f"({'and on its screen, dismissed there' if phone_shows else 'the phone page shows no notifications yet'}); "
             f"card: {shown['reads']} ({shown['readers']}); Tess listed as 'away · getting napkins'")

        # Chat (on the party screen): Omar (a bare partyline/1 guest) says a line and edits it; Sara says two from her
        # phone. The host screen shows them as said, newest at the bottom, Omar's "(edited)". The
        # host deletes Sara's second line with the pointer (the trash button, then the one
        # confirmation): her phone shows "Message deleted", and so does the host screen.
        controls(desktop, False)
        phone.execute_script(OMAR_JS, tess_url, info_now["sessionId"])
        until(desktop, "Omar's edited line on the host screen",
              lambda d: [l for l in chat_lines(d) if l["name"] == "Omar" and l["edited"]])
        for words in ("Who brought the speaker?", "this one should go"):
            box = until(phone, "the phone's chat box", lambda d: visible(d, "chat-input"))
            box.send_keys(words)
            by_testid(phone, "chat-send").click()
            until(desktop, f"{words!r} on the host screen", lambda d: chat_lines(d) and chat_lines(d)[-1]["text"] == words)
        lines = chat_lines(desktop)
        said = [(l["name"], l["text"], l["edited"], l["deleted"]) for l in lines]
        assert said == [("Omar", "The speaker is on the balcony", True, False),
                        ("Sara", "Who brought the speaker?", False, False),
                        ("Sara", "this one should go", False, False)], said
        assert by_testid(desktop, "chat-count").text == "(3)", by_testid(desktop, "chat-count").text
        assert not visible(desktop, "chat-empty")
        scroll_to(desktop, "chat-card")
        screenshot(display, out / "10c-chat.png", desktop, size=SIZES[0])
        desktop.execute_script("document.documentElement.dataset.theme = 'dark'")
        screenshot(display, out / "10c-chat-dark.png", desktop, size=SIZES[0])
        desktop.execute_script("delete document.documentElement.dataset.theme")
        doomed = lines[2]["id"]
        row = chat_row(desktop, doomed)
        trash = row.find_element(By.CSS_SELECTOR, '[data-testid="chat-delete"]')
        label = trash.get_attribute("aria-label")
        assert label == "Delete Sara's message", f"the trash button's label: {label!r}"
        point_and_click(desktop, trash)
        yes = until(desktop, "the confirmation in the line's row", lambda d: if_displayed(
            chat_row(d, doomed).find_element(By.CSS_SELECTOR, '[data-testid="chat-delete-yes"]')))
        assert [l["deleted"] for l in chat_lines(desktop)] == [False, False, False], "one click deletes nothing"
        screenshot(display, out / "10c-chat-confirm.png", desktop, size=SIZES[0])
        point_and_click(desktop, yes)
        until(desktop, "the line marked deleted on the host screen",
              lambda d: [l for l in chat_lines(d) if l["id"] == doomed and l["deleted"] and l["shownDeleted"]])
        assert not visible(desktop, "chat-error"), by_testid(desktop, "chat-error").text
        others = [(l["text"], l["deleted"]) for l in chat_lines(desktop) if l["id"] != doomed]
        assert others == [("The speaker is on the balcony", False), ("Who brought the speaker?", False)], others
        phone_chat = lambda d: d.execute_script(
            "return Array.from(document.querySelectorAll('[data-testid=\"chat-list\"] li')).map((li) => li.textContent)")
        until(phone, "'Message deleted' on Sara's phone", lambda d: any("Message deleted" in t for t in phone_chat(d)))
        shown_on_phone = phone_chat(phone)
        assert not any("this one should go" in t for t in shown_on_phone), shown_on_phone
        assert phone.execute_script(
            "return window.__omar.msgs.some((m) => m.type === 'chat.deleted' && m.id === arguments[0])", doomed), \
            "Omar got chat.deleted too"
        phone.execute_script("document.querySelector('[data-testid=\"chat-list\"] [data-testid=\"chat-deleted\"]')"
                             ".scrollIntoView({block: 'center'})")
        phone.save_screenshot(str(out / "10c-phone-chat-deleted.png"))
        # The host asks to delete Omar's line while Omar takes it back himself: the line shows
        # "Message deleted", the question closes, and nothing is refused.
        omars = lines[0]["id"]
        point_and_click(desktop, chat_row(desktop, omars).find_element(By.CSS_SELECTOR, '[data-testid="chat-delete"]'))
        until(desktop, "the confirmation on Omar's line", lambda d: if_displayed(
            chat_row(d, omars).find_element(By.CSS_SELECTOR, '[data-testid="chat-delete-yes"]')))
        phone.execute_script("window.__omar.ws.send(JSON.stringify({type: 'chat.delete', timestamp: Date.now(), id: arguments[0]}))", omars)
        until(desktop, "Omar's line deleted under the question", lambda d: [
            l for l in chat_lines(d) if l["id"] == omars and l["deleted"] and l["shownDeleted"]])
        row = chat_row(desktop, omars)
        leftover = [t for t in ("chat-delete", "chat-delete-yes", "chat-confirm")
                    if row.find_element(By.CSS_SELECTOR, f'[data-testid="{t}"]').is_displayed()]
        assert not leftover, f"still shown on a deleted line: {leftover}"
        assert not visible(desktop, "chat-error"), by_testid(desktop, "chat-error").text
        screenshot(display, out / "10c-chat-deleted.png", desktop, size=SIZES[0])
        desktop.execute_script("document.documentElement.dataset.theme = 'dark'")
        screenshot(display, out / "10c-chat-deleted-dark.png", desktop, size=SIZES[0])
        desktop.execute_script("delete document.documentElement.dataset.theme")
        phone.execute_script("clearInterval(window.__omar.beat); window.__omar.ws.close(1000)")
        desktop.execute_script("document.getElementById('controls-panel').scrollTo(0, 0)")
        step(f"chat: Omar's edited line and Sara's two on the host screen ({len(lines)} lines, Omar's '(edited)'); "
             f"the host deleted {doomed} with the pointer (trash, then 'Delete'): Sara's phone shows "
             f"'Message deleted', so does the host screen; Omar took back his own line while the host's "
             f"question was open: it closed, no error")

        # Photos: Sara shares one from her phone ("Share a photo"; WebDriver's file input stands
        # in for the phone's picker); the host screen's Photos card shows it, loaded from the
        # party's own address, with who shared it. The host turns "Guests share songs and photos"
        # off with the pointer: /api/info says so, Sara's next try is refused in words and her
        # buttons go; on again, they come back after a reload.
        photo = tmp / "Balcony.png"
        write_png(photo)
        assert not visible(desktop, "photos-card"), "no Photos card on the party screen before a photo"
        toggle = by_testid(desktop, "uploads-toggle")
        assert toggle.is_selected(), "uploads are on by default"
        until(phone, "Sara's share buttons", lambda d: visible(d, "share-photo"))
        by_testid(phone, "photo-file").send_keys(str(photo))
        until(phone, "Sara's photo result", lambda d: by_testid(d, "upload-result").text == "Photo shared with everyone.")
        shown = until(desktop, "the photo on the Photos card, loaded", lambda d: d.execute_script(
            "const li = document.querySelector('[data-testid=\"photo\"]'); if (!li) return null;"
            "const img = li.querySelector('img'); if (!img.complete || !img.naturalWidth) return null;"
            "return {width: img.naturalWidth, from: li.querySelector('[data-testid=\"photo-from\"]').textContent,"
            "        count: document.querySelector('[data-testid=\"photo-count\"]').textContent};"))
        assert shown == {"width": 320, "from": "Sara", "count": "(1)"}, shown
        assert visible(desktop, "photos-card") and not visible(desktop, "photos-empty")
        screenshot(display, out / "10p-photos.png", desktop, size=SIZES[0])
        desktop.execute_script("document.documentElement.dataset.theme = 'dark'")
        screenshot(display, out / "10p-photos-dark.png", desktop, size=SIZES[0])
        desktop.execute_script("delete document.documentElement.dataset.theme")
        controls(desktop, True)
        switch = toggle.find_element(By.XPATH, "..")  # the label: what a person clicks
        centre_in_scroller(desktop, switch)
        point_and_click(desktop, switch)
        until(desktop, "the switch off", lambda d: not by_testid(d, "uploads-toggle").is_selected())
        assert api_info(join_url)["uploads"]["allowed"] is False, api_info(join_url)["uploads"]
        by_testid(phone, "photo-file").send_keys(str(photo))
        refused = until(phone, "the refusal on Sara's phone", lambda d: (
            visible(d, "upload-result") and by_testid(d, "upload-result").text != "Photo shared with everyone."
            and by_testid(d, "upload-result").text))
        until(phone, "Sara's share buttons gone", lambda d: not visible(d, "share-photo"))
        phone.execute_script("document.querySelector('[data-testid=\"upload-result\"]').scrollIntoView({block: 'center'})")
        phone.save_screenshot(str(out / "10p-phone-refused.png"))
        assert desktop.execute_script("return document.querySelectorAll('[data-testid=\"photo\"]').length") == 1, \
            "a refused photo adds nothing"
        point_and_click(desktop, switch)
        until(desktop, "the switch on again", lambda d: by_testid(d, "uploads-toggle").is_selected())
        assert api_info(join_url)["uploads"]["allowed"] is True
        desktop.execute_script("document.getElementById('controls-panel').scrollTo(0, 0)")
        step(f"photos: Sara shared Balcony.png from her phone; the Photos card shows it (320 px wide, from Sara); "
             f"the switch off: /api/info says so, her next try was refused ({refused!r}) and her buttons went; on again")

        # New key: the old QR code stops letting anyone in; the party goes on, on the same port.
        stop_or_new = by_testid(desktop, "new-key-button")
        centre_in_scroller(desktop, stop_or_new)
        point_and_click(desktop, stop_or_new)  # guests present (Desk): the first click asks
        until(desktop, "the confirm question", lambda d: "Sure" in by_testid(d, "new-key-button").text)
        point_and_click(desktop, stop_or_new)
        page_still(desktop, "a new key")
        until(desktop, "a new join URL", lambda d: by_testid(d, "join-url").text not in ("", join_url))
        new_url = by_testid(desktop, "join-url").text
        assert new_url.split("#")[0] == join_url.split("#")[0], f"same address and port: {new_url} vs {join_url}"
        info = api_info(new_url)
        assert info["name"] == "Rooftop", info
        old_key = join_url.split("#k=")[1]
        old_ws = join_url.split("#")[0].replace("http://", "ws://") + "ws?token=" + old_key
        refused = phone.execute_async_script("""
            const [url, sessionId, done] = arguments;
            const ws = new WebSocket(url);
            let error = null;
            ws.onopen = () => ws.send(JSON.stringify({type: 'join', timestamp: Date.now(), sessionId,
                deviceInfo: {id: 'e2e-old-key', name: 'Old key', type: 'client'}}));
            ws.onmessage = (e) => { const m = JSON.parse(e.data); if (m.type === 'error') error = m; };
            ws.onclose = (e) => done({code: e.code, error});
            setTimeout(() => done({code: -1, error}), 5000);
        """, old_ws, info["sessionId"])
        assert refused["code"] == 4001 and (refused["error"] or {}).get("details", {}).get("reason") == "old_key", refused
        wait_for_qr(display, out / "11-new-key.png", expect=new_url)
        step(f"new key: the QR code now says {new_url} (same port, same party); a join with the old key "
             f"is refused ({refused['code']}, old_key)")

        # Stop hosting. The new key kept the party, and its guests (Desk) with it: the first click
        # asks, the second ends the party.
        stop = by_testid(desktop, "stop-button")
        centre_in_scroller(desktop, stop)
        point_and_click(desktop, stop)
        until(desktop, "the confirm question", lambda d: "Sure" in by_testid(d, "stop-button").text)
        point_and_click(desktop, stop)
        until(desktop, "the stopped screen", lambda d: visible(d, "host-stopped"))
        screenshot(display, out / "12-stopped.png", desktop, size=SIZES[0])
        by_testid(desktop, "start-button").click()
        until(desktop, "hosting again", lambda d: visible(d, "host-running") and by_testid(d, "join-url").text)
        step("stop hosting, then start again")

        # The party screen with 3 guests, then 30 in a party of 30 places: Full on the QR card.
        join_url = text(desktop, "join-url")
        info = api_info(join_url)
        ws_url = "ws://" + join_url.split("//", 1)[1].split("/", 1)[0] + "/ws?token=" + join_url.split("#k=", 1)[1]
        controls(desktop, True)
        cap = by_testid(desktop, "capacity-input")
        centre_in_scroller(desktop, cap)
        cap.clear()
        cap.send_keys("30")
        point_and_click(desktop, by_testid(desktop, "capacity-button"))
        until(desktop, "30 places", lambda d: "0 guests of 30" in text(d, "party-meta"))
        # The guests' sockets from the new party's own page (its CSP lets it reach its own host).
        phone.get("about:blank")
        phone.get(join_url)
        until(phone, "the new party's join screen", lambda d: visible(d, "name-input"))
        phone.execute_script(GUESTS_JS, ws_url, info["sessionId"], GUEST_NAMES[:3], TALKERS)
        controls(desktop, False)
        until(desktop, "3 guests on the wall", lambda d: sorted(wall_names(d)) == sorted(GUEST_NAMES[:3]))
        until(desktop, "their 3 lines in the chat", lambda d: len(chat_lines(d)) == 3)
        m3 = party_screens(desktop, display, out, 3, join_url)
        phone.execute_script(GUESTS_JS, ws_url, info["sessionId"], GUEST_NAMES[3:], TALKERS)
        until(desktop, "30 guests", lambda d: text(d, "party-meta").startswith("30 guests of 30"), timeout=WAIT * 2)
        assert text(desktop, "qr-state") == "Full — 30 of 30" and visible(desktop, "qr-state"), text(desktop, "qr-state")
        assert "open to join" not in text(desktop, "party-meta"), text(desktop, "party-meta")
        assert by_testid(desktop, "host-status").text == "Hosting · full", by_testid(desktop, "host-status").text
        m30 = party_screens(desktop, display, out, 30, join_url)
        # Fewer places than guests here: refused, saying why.
        controls(desktop, True)
        cap = by_testid(desktop, "capacity-input")
        centre_in_scroller(desktop, cap)
        cap.clear()
        cap.send_keys("29")
        point_and_click(desktop, by_testid(desktop, "capacity-button"))
        refused = until(desktop, "the capacity refused", lambda d: visible(d, "capacity-error") and by_testid(d, "capacity-error").text)
        assert refused == "30 guests are here already: the most guests cannot be fewer. To let nobody new in, lock the party.", refused
        assert "of 30" in text(desktop, "party-meta"), text(desktop, "party-meta")
        lock = by_testid(desktop, "lock-toggle").find_element(By.XPATH, "..")
        centre_in_scroller(desktop, lock)
        point_and_click(desktop, lock)
        until(desktop, "locked, on the QR card", lambda d: text(d, "qr-state") == "Locked — nobody new can join")
        controls(desktop, False)
        screenshot(display, out / "party-1366-30-locked.png", desktop, size=SIZES[0])
        phone.execute_script("for (const m of window.__guests.list) { clearInterval(m.beat);"
                             "  m.ws.send(JSON.stringify({type: 'leave', timestamp: Date.now(), reason: 'done'})); }")
        step("party screen, 3 guests: " + "; ".join(f"{w}x{h}: {v['pxPerModule']:.1f} px per module, {v['tiles']} tiles"
                                                   for (w, h), v in m3.items())
             + "; 30 of 30: 'Full — 30 of 30' on the card, " + "; ".join(
                 f"{w}x{h}: {v['shown']} tiles + {v['more']} more, {v['pxPerModule']:.1f} px per module"
                 for (w, h), v in m30.items())
             + f"; capacity 29 refused ({refused!r}); locked shows on the card")
        print("e2e: PASS", flush=True)
    except Exception:
        failure_screenshots(display, phone, out)
        raise
    finally:
        quit_all(procs, phone, desktop)
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)


# ---- the desktop app as a user expects it: one instance, the window, the party kept -------------

def start_session_bus(procs, logs):
    """A private D-Bus session bus (the single-instance plugin finds the first window through
    it); its address."""
    p = subprocess.Popen(["dbus-daemon", "--session", "--nofork", "--nopidfile", "--print-address=1"],
                         stdout=subprocess.PIPE, stderr=open(logs / "dbus.log", "w"), text=True, start_new_session=True)
    procs.procs.append(p)
    address = p.stdout.readline().strip()
    if not address:
        raise SystemExit("dbus-daemon did not start (see dbus.log)")
    return address


def app_windows(display):
    """The app's mapped top-level windows: [{id, title, width, height}] (xwininfo and xprop)."""
    r = subprocess.run(["xwininfo", "-display", display, "-root", "-children"], capture_output=True, text=True, check=True)
    windows = []
    for line in r.stdout.splitlines():
        parts = line.split()
        if not parts or not parts[0].startswith("0x") or "partyline-desktop" not in line.lower():
            continue
        wid = parts[0]
        info = subprocess.run(["xwininfo", "-display", display, "-id", wid], capture_output=True, text=True).stdout
        if "IsViewable" not in info:
            continue
        size = {k: int(v) for k, v in (l.strip().split(": ") for l in info.splitlines() if l.strip().startswith(("Width:", "Height:")))}
        name = subprocess.run(["xprop", "-display", display, "-id", wid, "_NET_WM_NAME"], capture_output=True, text=True).stdout
        title = name.split(" = ", 1)[1].strip().strip('"') if " = " in name else ""
        windows.append({"id": wid, "title": title, "width": size.get("Width", 0), "height": size.get("Height", 0)})
    return windows


def wait_windows(display, what, pred, timeout=WAIT):
    deadline = time.monotonic() + timeout
    windows = []
    while time.monotonic() < deadline:
        windows = app_windows(display)
        if pred(windows):
            return windows
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}; the app's windows: {windows}")


def party_window(display):
    """The app's party window, by its title: a tooltip the pointer left over a button is a
    window of the app's too (a small untitled one), so counting windows would not do."""
    named = lambda w: [x for x in w if x["title"].endswith("Partyline") and x["width"] > 300]
    return named(wait_windows(display, "the party window", named))[0]


def ask_to_close(display, window_id):
    """What a window manager's close button sends: WM_DELETE_WINDOW, as a WM_PROTOCOLS client
    message (libX11 through ctypes; the display has no window manager)."""
    import ctypes
    import ctypes.util
    c = ctypes
    x11 = c.CDLL(ctypes.util.find_library("X11") or "libX11.so.6")
    x11.XOpenDisplay.restype = c.c_void_p
    x11.XOpenDisplay.argtypes = [c.c_char_p]
    x11.XInternAtom.restype = c.c_ulong
    x11.XInternAtom.argtypes = [c.c_void_p, c.c_char_p, c.c_int]
    x11.XSendEvent.argtypes = [c.c_void_p, c.c_ulong, c.c_int, c.c_long, c.c_void_p]
    x11.XFlush.argtypes = [c.c_void_p]
    x11.XCloseDisplay.argtypes = [c.c_void_p]

    class ClientMessage(c.Structure):
        _fields_ = [("type", c.c_int), ("serial", c.c_ulong), ("send_event", c.c_int), ("display", c.c_void_p),
                    ("window", c.c_ulong), ("message_type", c.c_ulong), ("format", c.c_int), ("data", c.c_long * 5)]

    class XEvent(c.Union):
        _fields_ = [("xclient", ClientMessage), ("pad", c.c_long * 24)]

    dpy = x11.XOpenDisplay(display.encode())
    if not dpy:
        raise AssertionError(f"cannot open the display {display}")
    ev = XEvent()
    ev.xclient.type = 33  # ClientMessage
    ev.xclient.window = int(window_id, 16)
    ev.xclient.message_type = x11.XInternAtom(dpy, b"WM_PROTOCOLS", 0)
    ev.xclient.format = 32
    ev.xclient.data[0] = x11.XInternAtom(dpy, b"WM_DELETE_WINDOW", 0)
    x11.XSendEvent(dpy, int(window_id, 16), 0, 0, c.byref(ev))
    x11.XFlush(dpy)
    x11.XCloseDisplay(dpy)


def app_pids(app, data_dir):
    """The app's processes hosting from `data_dir` (its PARTYLINE_DATA_DIR), read from /proc."""
    pids = []
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            if os.readlink(d / "exe") != app:
                continue
            if f"PARTYLINE_DATA_DIR={data_dir}".encode() in (d / "environ").read_bytes().split(b"\0"):
                pids.append(int(d.name))
        except OSError:
            pass
    return pids


def host_members(desktop):
    """The app's `members` command, as the page calls it."""
    desktop.set_script_timeout(10)
    return desktop.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "window.__TAURI__.core.invoke('members').then(done, (e) => done({error: e}));")


def test_one_instance(app, display, env, tmp, logs, out, procs):
    """A second launch brings the first window forward and exits: one window, one party. The
    window fits a 1366×768 screen. With no guests, its close button closes it."""
    env = dict(env, DBUS_SESSION_BUS_ADDRESS=start_session_bus(procs, logs),
               PARTYLINE_DATA_DIR=str(tmp / "one-instance"), XDG_CONFIG_HOME=str(tmp / "one-instance-config"))
    first = procs.start([app], open(logs / "app-first.log", "w"), env=env)
    url = wait_for_qr(display, out / "20-first-instance.png")[0]
    windows = wait_windows(display, "the first window", lambda w: len(w) == 1)
    second = procs.start([app], open(logs / "app-second.log", "w"), env=env)
    try:
        rc = second.wait(WAIT)
    except subprocess.TimeoutExpired:
        raise AssertionError("the second launch is still running: expected it to hand over and exit")
    assert rc == 0, f"the second launch exited with {rc}, wanted 0 (see app-second.log)"
    second_log = (logs / "app-second.log").read_text()
    assert "os error 98" not in second_log and "already hosting" not in second_log, second_log
    until_log = time.monotonic() + WAIT
    while "bringing the window forward" not in (logs / "app-first.log").read_text():
        assert time.monotonic() < until_log, "the first instance was not asked to come forward (app-first.log)"
        time.sleep(0.2)
    assert first.poll() is None, "the first instance is gone"
    assert api_info(url)["sessionId"], "the first party still answers"
    windows = app_windows(display)
    assert len(windows) == 1, f"expected one window, got {windows}"
    w = windows[0]
    assert w["width"] <= 1366 and w["height"] <= 768, f"the window ({w['width']}×{w['height']}) does not fit 1366×768"
    assert w["title"] == "Partyline", f"a party named Partyline is titled Partyline alone: {w['title']!r}"
    wait_for_qr(display, out / "21-after-second-launch.png", expect=url)
    step(f"one instance: the second launch exited 0 and the first came forward; one window "
         f"({w['width']}×{w['height']}, {w['title']!r}), one party ({url})")
    ask_to_close(display, w["id"])
    try:
        first.wait(WAIT)
    except subprocess.TimeoutExpired:
        raise AssertionError("closing the window with no guests did not close the app")
    step("closed with no guests: the app closed without asking")

    # Without a session bus the plugin lets a second launch through: the party file's lock then
    # keeps it from hosting, and it says so in the app's words.
    env = dict(env)
    env.pop("DBUS_SESSION_BUS_ADDRESS")
    first = procs.start([app], open(logs / "app-first-nobus.log", "w"), env=env)
    url = wait_for_qr(display, out / "20b-first-no-bus.png")[0]
    second = procs.start([app], open(logs / "app-second-nobus.log", "w"), env=env)
    deadline = time.monotonic() + WAIT * 2
    while "party_in_use" not in (logs / "app-second-nobus.log").read_text():
        assert time.monotonic() < deadline, "the second launch without a bus did not say the party is in use"
        assert second.poll() is None, "the second launch without a bus exited"
        time.sleep(0.2)
    said = [l for l in (logs / "app-second-nobus.log").read_text().splitlines() if "party_in_use" in l][0]
    assert "--" not in said.split("party_in_use", 1)[1], f"the words name a flag: {said}"
    assert api_info(url)["sessionId"], "the first party still answers"
    procs.stop(second)
    procs.stop(first)
    step("without a session bus: the second launch hosts nothing and says the party is already hosted")


def test_fits_a_small_screen(app, env, tmp, logs, out, procs):
    """On a screen smaller than the configured 1280×720 the window shrinks to fit it."""
    display = start_xvfb(procs, logs, screen="1024x600x24")
    env = dict(env, DISPLAY=display, PARTYLINE_DATA_DIR=str(tmp / "small"), XDG_CONFIG_HOME=str(tmp / "small-config"))
    p = procs.start([app], open(logs / "app-small.log", "w"), env=env)
    # The window opens at its configured size and is fitted once its page has loaded.
    fits = lambda ws: len(ws) == 1 and ws[0]["width"] <= 1024 and ws[0]["height"] <= 600
    w = wait_windows(display, "the window to fit 1024×600", fits, timeout=WAIT * 2)[0]
    assert w["width"] <= 1024 and w["height"] <= 600, f"the window ({w['width']}×{w['height']}) overflows 1024×600"
    assert w["width"] >= 760 and w["height"] >= 560, f"the window ({w['width']}×{w['height']}) is below its minimum"
    screenshot(display, out / "27-small-screen.png")
    procs.stop(p)
    step(f"on a 1024×600 screen the window is {w['width']}×{w['height']}")


def test_party_outlives_the_app(app, display, env, tmp, logs, out, procs):
    """Title, Choose…, the close question, the party across a kill -9, the restored notice and
    New party, through WebDriver with a phone."""
    data_dir = tmp / "keep"
    music = tmp / "picked-music"
    music.mkdir()
    write_wav(music / "Picked song.wav", 3)
    env = dict(env, PARTYLINE_DATA_DIR=str(data_dir), PARTYLINE_PICK_FOLDER=str(music),
               XDG_CONFIG_HOME=str(tmp / "keep-config"))
    driver_port = start_tauri_driver(procs, logs, env)
    desktop = launch_app(driver_port, app, logs)
    phone = None
    try:
        until(desktop, "the QR code", lambda d: d.find_elements(By.CSS_SELECTOR, '[data-testid="qr"] svg'))
        assert (data_dir / "party.db").exists(), f"expected the party kept in {data_dir}/party.db"
        controls(desktop, True)  # the name field is in the host controls beside the party screen
        name = by_testid(desktop, "party-name")
        name.clear()
        name.send_keys("Rooftop")
        point_and_click(desktop, by_testid(desktop, "rename-button"))
        wait_windows(display, "the title to name the party", lambda w: [x for x in w if x["title"] == "Rooftop — Partyline"])
        step("the window's title follows the party's name: 'Rooftop — Partyline'")

        # Choose…: the native picker (its answer given by PARTYLINE_PICK_FOLDER), shared as typed.
        choose = until(desktop, "the Choose… button", lambda d: visible(d, "sp-folder-choose"))
        desktop.execute_script("arguments[0].scrollIntoView({block: 'center'})", choose)
        point_and_click(desktop, choose)
        until(desktop, "the picked folder's song in the library", lambda d: library_item(d, "Picked song"))
        assert by_testid(desktop, "sp-folder").get_attribute("value") == str(music)
        screenshot(display, out / "22-folder-chosen.png", desktop)
        desktop.execute_script("document.getElementById('view-host').scrollTo(0, 0)")
        step(f"Choose… beside the media folder: the picked folder ({music.name}) is shared, its song listed")

        join_url = by_testid(desktop, "join-url").text
        phone = phone_browser(tmp, logs)
        phone.get(join_url)
        until(phone, "the phone's join screen", lambda d: visible(d, "name-input")).send_keys("Sara")
        by_testid(phone, "join-button").click()
        until(phone, "the phone to be connected", lambda d: visible(d, "screen-party")
              and by_testid(d, "connection-state").get_attribute("data-state") == "connected")
        until(desktop, "Sara in the app's list", lambda d: member_row(d, "Sara"))
        sara = [m for m in host_members(desktop) if m["name"] == "Sara"][0]

        # The close button with a guest in the party: the page asks; "Keep hosting" keeps it.
        window = party_window(display)
        ask_to_close(display, window["id"])
        dialog = until(desktop, "the close question", lambda d: visible(d, "close-dialog"))
        question = by_testid(desktop, "close-dialog-title").text
        assert question == "End the party for 1 guest?", f"the question: {question!r}"
        screenshot(display, out / "23-close-asks.png", desktop)
        point_and_click(desktop, by_testid(desktop, "close-dialog-no"))
        until(desktop, "the question gone", lambda d: not visible(d, "close-dialog"))
        assert api_info(join_url)["sessionId"] and len(app_windows(display)) == 1, "still hosting, in its window"
        step(f"the close button with Sara in the party asked {question!r}; 'Keep hosting' kept it")
        del dialog

        # kill -9: the next launch picks the party up; Sara's phone resumes as the same member.
        pids = app_pids(app, data_dir)
        assert len(pids) == 1, f"expected one app process, got {pids}"
        os.kill(pids[0], signal.SIGKILL)
        deadline = time.monotonic() + WAIT
        while app_pids(app, data_dir):
            assert time.monotonic() < deadline, "the app survived SIGKILL"
            time.sleep(0.1)
        try:
            desktop.quit()
        except Exception:
            pass
        desktop = launch_app(driver_port, app, logs)
        until(desktop, "the QR code again", lambda d: d.find_elements(By.CSS_SELECTOR, '[data-testid="qr"] svg'))
        wait_for_qr(display, out / "24-restored.png", expect=join_url)
        notice = until(desktop, "the restored notice", lambda d: visible(d, "restored-notice"))
        assert notice.text.startswith("Party restored — 1 guest can come back"), notice.text
        screenshot(display, out / "24-restored-notice.png", desktop)
        back = until(desktop, "Sara back as herself", lambda d: [
            m for m in host_members(d) if m["id"] == sara["id"] and m["connectionStatus"] == "connected"], timeout=30)
        until(phone, "the phone connected again", lambda d: by_testid(d, "connection-state").get_attribute("data-state") == "connected")
        wait_windows(display, "the restored party's title", lambda w: [x for x in w if x["title"] == "Rooftop — Partyline"])
        step(f"kill -9 and launch again: the same QR code ({join_url}), 'Party restored — 1 guest can come back', "
             f"Sara's phone resumed as {back[0]['id']}")
        point_and_click(desktop, by_testid(desktop, "restored-notice-dismiss"))

        # New party: asks, then a new key and QR code; the old link no longer lets anyone in.
        controls(desktop, True)  # beside the party's stop button, in the host controls
        point_and_click(desktop, by_testid(desktop, "new-party-button"))
        until(desktop, "the New party question", lambda d: visible(d, "new-party-dialog"))
        body = by_testid(desktop, "new-party-dialog-body").text
        assert "1 guest must scan" in body, body
        screenshot(display, out / "25-new-party-asks.png", desktop)
        point_and_click(desktop, by_testid(desktop, "new-party-dialog-yes"))
        until(desktop, "a new join URL", lambda d: visible(d, "join-url") and by_testid(d, "join-url").text not in ("", join_url))
        new_url = by_testid(desktop, "join-url").text
        assert new_url.split("#k=")[1] != join_url.split("#k=")[1], "expected a new key"
        assert not visible(desktop, "restored-notice"), "a new party is not restored"
        wait_for_qr(display, out / "26-new-party.png", expect=new_url)
        assert [m["name"] for m in host_members(desktop) if not m["isHost"]] == [], "nobody in the new party yet"
        step(f"New party (asked first): a new key and QR code ({new_url})")

        # A guest in the new party, then the close button: "End party" closes the app.
        phone.get(new_url)
        name = until(phone, "the phone's join screen", lambda d: visible(d, "name-input"))
        name.clear()
        name.send_keys("Omar")
        by_testid(phone, "join-button").click()
        until(desktop, "Omar in the app's list", lambda d: member_row(d, "Omar"))
        window = party_window(display)
        ask_to_close(display, window["id"])
        until(desktop, "the close question", lambda d: visible(d, "close-dialog"))
        try:
            point_and_click(desktop, by_testid(desktop, "close-dialog-yes"))
        except WebDriverException:
            # The click ends the app, which may take the driver's answer to it along: whether
            # it worked is what the loop below checks (the app gone within WAIT).
            pass
        deadline = time.monotonic() + WAIT
        while app_pids(app, data_dir):
            assert time.monotonic() < deadline, "'End party' did not close the app"
            time.sleep(0.1)
        step("the close button with Omar in the new party asked; 'End party' closed the app")
    finally:
        for d in (phone, desktop):
            if d is not None:
                try:
                    d.quit()
                except Exception:
                    pass


if __name__ == "__main__":
    sys.exit(main())
