#!/usr/bin/env python3
"""End-to-end test of the desktop app, as a person would use it, on a private X display.

1. Launch the app (hosting on 127.0.0.1, mDNS off, settings in a temporary directory), take a
   screenshot of the whole display and decode the QR code in it with zbarimg.
2. Drive the app through tauri-driver (WebKitWebDriver) and a phone through headless Chromium
   (chromedriver): the phone opens the decoded URL and joins; the member appears in the app's
   list; the app kicks it; the phone shows the kicked screen. Then: lock from the app (the phone
   cannot rejoin), join the app's own party from its Browse tab (ui/shared/client.js in the web
   view), dark mode, SyncPlay, announcements, the chat (lines, an edit, the host deleting one with
   the pointer), stop hosting.

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


def start_xvfb(procs, logs):
    """A private display; its number comes from Xvfb itself (-displayfd)."""
    r, w = os.pipe()
    log = open(logs / "xvfb.log", "w")
    p = subprocess.Popen(
        ["Xvfb", "-displayfd", str(w), "-screen", "0", "1280x860x24", "-nolisten", "tcp", "-noreset"],
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


def screenshot(display, path, driver=None):
    """The whole display, as a person would see it (ImageMagick's import); with `driver`, after
    its page has painted."""
    if driver is not None:
        painted(driver)
    subprocess.run(["import", "-display", display, "-window", "root", str(path)], check=True)
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
    for li in driver.find_elements(By.CSS_SELECTOR, '[data-testid="member-list"] [data-testid="member"]'):
        if li.find_element(By.CSS_SELECTOR, '[data-testid="member-name"]').text == name:
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


def write_wav(path, seconds, rate=8000):
    """A mono 16-bit PCM WAV of silence, header written by hand (what media.rs shares and the
    desktop reads the duration of)."""
    import struct
    data = bytes(2 * rate * seconds)
    header = b"RIFF" + struct.pack("<I", 36 + len(data)) + b"WAVEfmt " + struct.pack("<IHHIIHH", 16, 1, 1, rate, rate * 2, 2, 16)
    path.write_bytes(header + b"data" + struct.pack("<I", len(data)) + data)


def library_item(driver, title):
    """The SyncPlay panel's library row titled `title` (looked up in the page: it re-renders)."""
    return driver.execute_script(
        "for (const li of document.querySelectorAll('[data-testid=\"sp-library-item\"]'))"
        "  if (li.querySelector('[data-testid=\"sp-item-title\"]').textContent === arguments[0]) return li;"
        "return null;", title)


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


def scroll_to(driver, testid):
    """Scrolls the host view (not the window) so `testid` is at its top."""
    driver.execute_script(
        "const v = document.getElementById('view-host');"
        "const e = document.querySelector('[data-testid=\"' + arguments[0] + '\"]');"
        "v.scrollTop += e.getBoundingClientRect().top - v.getBoundingClientRect().top - 12;", testid)


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
        until(desktop, "the guest count", lambda d: "1 guest of 100" in by_testid(d, "party-meta").text)
        screenshot(display, out / "04-host-with-member.png", desktop)
        step("app: Sara is listed (connected, Android phone, with latency and time joined)")

        # Kick.
        member_row(desktop, "Sara").find_element(By.CSS_SELECTOR, '[data-testid="kick-button"]').click()
        until(phone, "the phone's kicked screen", lambda d: visible(d, "screen-kicked"))
        phone.save_screenshot(str(out / "05-phone-kicked.png"))
        until(desktop, "Sara gone from the list", lambda d: member_row(d, "Sara") is None)
        assert visible(desktop, "members-empty")
        step("app kicked Sara: the phone shows the kicked screen; the list is empty again")

        # Lock from the app: the phone cannot come back.
        by_testid(desktop, "lock-toggle").find_element(By.XPATH, "..").click()
        until(desktop, "the locked pill", lambda d: by_testid(d, "host-status").text == "Hosting · locked")
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
        cap.clear()
        cap.send_keys("0")
        by_testid(desktop, "capacity-button").click()
        until(desktop, "the capacity error toast", lambda d: visible(d, "toast") and "capacity" in by_testid(d, "toast").text.lower())
        cap.clear()
        cap.send_keys("12")
        by_testid(desktop, "capacity-button").click()
        until(desktop, "renamed and 12 places", lambda d: "of 12" in by_testid(d, "party-meta").text and d.title.startswith("Rooftop"))
        step("rename and capacity from the page; capacity 0 shows the command error")

        # Join the app's own party from its Browse tab: ui/shared/client.js in the web view.
        by_testid(desktop, "tab-browse").click()
        until(desktop, "the browse tab", lambda d: visible(d, "browse-empty"))
        screenshot(display, out / "07-browse.png", desktop)
        local = join_url.split("//", 1)[1].split("/", 1)[0]
        by_testid(desktop, "join-address").send_keys(local)
        by_testid(desktop, "join-code").send_keys(room_code)
        by_testid(desktop, "join-name").send_keys("Desk")
        by_testid(desktop, "join-button").click()
        until(desktop, "joined as a member", lambda d: visible(d, "browse-joined") and by_testid(d, "joined-status").text == "Connected")
        until(desktop, "the joined party's members",
              lambda d: len(d.find_elements(By.CSS_SELECTOR, '[data-testid="joined-member"]')) == 2)
        assert by_testid(desktop, "joined-name").text == "Rooftop"
        screenshot(display, out / "08-browse-joined.png", desktop)
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
        write_wav(media / "Quiet hour.wav", seconds=60)
        scroll_to(desktop, "syncplay-panel")
        folder = by_testid(desktop, "sp-folder")
        folder.clear()
        folder.send_keys(str(media))
        by_testid(desktop, "sp-folder-set").click()
        until(desktop, "the WAV in the library", lambda d: library_item(d, "Quiet hour"))
        duration = desktop.execute_script(
            "return arguments[0].querySelector('[data-testid=\"sp-item-duration\"]').textContent", library_item(desktop, "Quiet hour"))
        assert duration == "1:00", duration
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
        desktop.execute_script(
            "arguments[0].querySelector('[data-testid=\"sp-item-play\"]').click()", library_item(desktop, "Quiet hour"))
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
        screenshot(display, out / "10s-syncplay.png", desktop)
        desktop.execute_script("document.documentElement.dataset.theme = 'dark'")
        screenshot(display, out / "10s-syncplay-dark.png", desktop)
        desktop.execute_script("delete document.documentElement.dataset.theme")
        by_testid(desktop, "sp-play").click()  # pause for everyone
        until(desktop, "paused", lambda d: by_testid(d, "syncplay-panel").get_attribute("data-state") == "paused")
        until(phone, "the phone paused", lambda d: by_testid(d, "now-playing").get_attribute("data-state") == "paused")
        desktop.execute_script("document.getElementById('view-host').scrollTo(0, 0)")
        step(f"SyncPlay: shared {media} (same party), played Quiet hour (1:00) on the phone; panel: Sara {shown[0]}, "
             f"{shown[1]}; summary {shown[2]!r}; Sara's volume set to 30 % from the panel, her player at 0.3; paused")

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
        screenshot(display, out / "10n-announce.png", desktop)
        desktop.execute_script("document.documentElement.dataset.theme = 'dark'")
        screenshot(display, out / "10n-announce-dark.png", desktop)
        desktop.execute_script("delete document.documentElement.dataset.theme")
        phone.execute_script("clearInterval(window.__tess.beat); window.__tess.ws.close(1000)")
        desktop.execute_script("document.getElementById('view-host').scrollTo(0, 0)")
        step(f"announce: an empty title refused; 'Pizza is here' sent, in Sara's phone's frames "
             f"({'and on its screen, dismissed there' if phone_shows else 'the phone page shows no notifications yet'}); "
             f"card: {shown['reads']} ({shown['readers']}); Tess listed as 'away · getting napkins'")

        # Chat: Omar (a bare partyline/1 guest) says a line and edits it; Sara says two from her
        # phone. The host screen shows them as said, newest at the bottom, Omar's "(edited)". The
        # host deletes Sara's second line with the pointer (the trash button, then the one
        # confirmation): her phone shows "Message deleted", and so does the host screen.
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
        screenshot(display, out / "10c-chat.png", desktop)
        desktop.execute_script("document.documentElement.dataset.theme = 'dark'")
        screenshot(display, out / "10c-chat-dark.png", desktop)
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
        screenshot(display, out / "10c-chat-confirm.png", desktop)
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
        screenshot(display, out / "10c-chat-deleted.png", desktop)
        desktop.execute_script("document.documentElement.dataset.theme = 'dark'")
        screenshot(display, out / "10c-chat-deleted-dark.png", desktop)
        desktop.execute_script("delete document.documentElement.dataset.theme")
        phone.execute_script("clearInterval(window.__omar.beat); window.__omar.ws.close(1000)")
        desktop.execute_script("document.getElementById('view-host').scrollTo(0, 0)")
        step(f"chat: Omar's edited line and Sara's two on the host screen ({len(lines)} lines, Omar's '(edited)'); "
             f"the host deleted {doomed} with the pointer (trash, then 'Delete'): Sara's phone shows "
             f"'Message deleted', so does the host screen; Omar took back his own line while the host's "
             f"question was open: it closed, no error")

        # New key: the old QR code stops letting anyone in; the party goes on, on the same port.
        stop_or_new = by_testid(desktop, "new-key-button")
        stop_or_new.click()  # guests present (Desk): the first click asks
        until(desktop, "the confirm question", lambda d: "Sure" in by_testid(d, "new-key-button").text)
        stop_or_new.click()
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
        stop.click()
        until(desktop, "the confirm question", lambda d: "Sure" in by_testid(d, "stop-button").text)
        stop.click()
        until(desktop, "the stopped screen", lambda d: visible(d, "host-stopped"))
        screenshot(display, out / "12-stopped.png", desktop)
        by_testid(desktop, "start-button").click()
        until(desktop, "hosting again", lambda d: visible(d, "host-running") and by_testid(d, "join-url").text)
        step("stop hosting, then start again")
        print("e2e: PASS", flush=True)
    except Exception:
        failure_screenshots(display, phone, out)
        raise
    finally:
        quit_all(procs, phone, desktop)
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
