#!/usr/bin/env python3
"""The desktop app on a simulated LAN: mDNS on, two hosts, a machine with two networks.

The test builds the LAN itself, out of private network namespaces (needs root; nothing reaches
this machine's real interfaces): host A runs the desktop app (with its X display, WebDriver and a
Chromium "phone"), host B runs the headless `partyline host` ("Kitchen"). They share two links,
as a laptop on both Wi-Fi and Ethernet would: eth0 10.231.0.0/24 and eth1 10.232.0.0/24.

1. The app hosts on every interface and advertises; its address picker offers both addresses.
   Picking the other one puts it in the QR code (decoded from a screenshot); a phone that scans
   it joins through it.
2. The Browse tab finds Kitchen over mDNS, live: its lock and member count follow B's changes
   without a click; the app's own party is marked, not offered.
3. The app joins Kitchen as a member with its room code (B's event stream shows it).
4. Kitchen ends: it leaves the list (mDNS goodbye) and the joined view says the party is over.
5. The app launched again puts the remembered address in its QR code.
6. The QR code follows the network (a namespace of its own, host C, mDNS off): launched with
   only loopback, the app says what to do in words (no flag named) and its QR code holds
   127.0.0.1; an address added to C's link after launch is in the QR code within seconds, and so
   is the one that replaces it.

Run through run.sh (it builds first); screenshots go to --out (tests/output/desktop-lan/).
"""

import argparse
import json
import os
import queue
import subprocess
import sys
import tempfile
import threading
import time
import shutil
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import e2e  # noqa: E402  (helpers shared with the loopback test)
from e2e import WAIT, Procs, by_testid, screenshot, start_xvfb, step, until, visible, wait_for_qr  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402

A_ETH0, B_ETH0 = "10.231.0.1", "10.231.0.2"
A_ETH1, B_ETH1 = "10.232.0.1", "10.232.0.2"
C_FIRST, C_LEASE = "10.233.0.5", "10.233.0.77"
# The QR code follows the network within NETWORK_POLL (2 s, crates/host/src/network.rs) plus a
# repaint; what the test allows, on a machine shared with builds.
FOLLOW_WAIT = 15


def ip(*args):
    r = subprocess.run(["ip", *args], capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit(f"`ip {' '.join(args)}` failed: {r.stderr.strip()} (building the test LAN needs root)")


class Lan:
    """Two namespaces joined by two veth pairs; deleted on close."""

    def __init__(self):
        tag = f"pld{os.getpid() % 100000}"
        self.a, self.b = tag + "a", tag + "b"
        ip("netns", "add", self.a)
        ip("netns", "add", self.b)
        for n, (addr_a, addr_b) in enumerate([(A_ETH0, B_ETH0), (A_ETH1, B_ETH1)]):
            va, vb = f"{tag}v{n}a", f"{tag}v{n}b"
            ip("link", "add", va, "type", "veth", "peer", "name", vb)
            for veth, ns, addr in ((va, self.a, addr_a), (vb, self.b, addr_b)):
                ip("link", "set", veth, "netns", ns)
                ip("-n", ns, "link", "set", veth, "name", f"eth{n}")
                ip("-n", ns, "addr", "add", f"{addr}/24", "dev", f"eth{n}")
                ip("-n", ns, "link", "set", f"eth{n}", "up", "multicast", "on")
        for ns in (self.a, self.b):
            ip("-n", ns, "link", "set", "lo", "up")
            # No default route in a namespace: give multicast (mDNS) somewhere to go.
            ip("-n", ns, "route", "add", "224.0.0.0/4", "dev", "eth0")

    def close(self):
        for ns in (self.a, self.b):
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)


def follow_json(path, lines):
    """Kitchen's event lines, as the outer process appends them to `path`."""
    with open(path) as f:
        while True:
            line = f.readline()
            if not line:
                time.sleep(0.05)
                continue
            try:
                lines.put(json.loads(line))
            except ValueError:
                pass


def wait_line(lines, what, pred, timeout=WAIT):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            v = lines.get(timeout=max(0.05, deadline - time.monotonic()))
        except queue.Empty:
            break
        if pred(v):
            return v
    raise AssertionError(f"timed out waiting for Kitchen's event: {what}")


def browse_item(d, name):
    for li in d.find_elements(By.CSS_SELECTOR, '[data-testid="browse-item"]'):
        if li.find_element(By.CSS_SELECTOR, '[data-testid="browse-item-name"]').text == name:
            return li
    return None


def item_meta(d, name):
    li = browse_item(d, name)
    return li.find_element(By.CSS_SELECTOR, '[data-testid="browse-item-meta"]').text if li else ""


def inside(args):
    """Host A: everything but Kitchen runs here."""
    app = args.app
    out = Path(args.out)
    logs = out / "logs"
    tmp = Path(args.tmp)
    sync = Path(args.sync)
    kitchen = json.loads((sync / "kitchen.json").read_text())
    procs = Procs()
    desktop = phone = display = None

    def kitchen_do(command):
        # Host B's stdin, through a file the outer process forwards (it owns the pipe).
        with open(sync / "commands", "a") as f:
            f.write(command + "\n")

    events = queue.Queue()
    threading.Thread(target=follow_json, args=(sync / "kitchen-events", events), daemon=True).start()

    try:
        display = start_xvfb(procs, logs)
        env = dict(os.environ)
        for k in ("WAYLAND_DISPLAY", "DBUS_SESSION_BUS_ADDRESS", "PARTYLINE_BIND", "PARTYLINE_NO_MDNS",
                  "WEBKIT_DISABLE_DMABUF_RENDERER"):
            env.pop(k, None)
        env.update({
            "DISPLAY": display, "GDK_BACKEND": "x11", "NO_AT_BRIDGE": "1",
            "XDG_CONFIG_HOME": str(tmp / "config"), "XDG_DATA_HOME": str(tmp / "data"),
            "XDG_CACHE_HOME": str(tmp / "cache"), "RUST_LOG": "warn,partyline_desktop=debug,partyline_discovery=debug",
        })
        step(f"host A: display {display}; Kitchen (host B) at {kitchen['addresses'][0]['addr']}:{kitchen['port']}, "
             f"room code {kitchen['roomCode']}")

        port = e2e.start_tauri_driver(procs, logs, env)

        def launch():
            return e2e.launch_app(port, app, logs)

        # ---- 1. address picker ---------------------------------------------------------------------
        desktop = launch()
        until(desktop, "hosting", lambda d: by_testid(d, "host-status").text == "Hosting" and by_testid(d, "join-url").text)
        until(desktop, "the address picker", lambda d: visible(d, "address-picker"))
        options = [o.get_attribute("value") for o in desktop.find_elements(By.CSS_SELECTOR, '[data-testid="address-select"] option')]
        assert sorted(options) == [A_ETH0, A_ETH1], f"the picker offers {options}, wanted both LAN addresses"
        first_url = by_testid(desktop, "join-url").text
        wait_for_qr(display, out / "01-lan-host.png", expect=first_url)
        other = A_ETH1 if f"//{A_ETH0}:" in first_url else A_ETH0
        desktop.find_element(By.CSS_SELECTOR, f'[data-testid="address-select"] option[value="{other}"]').click()
        until(desktop, "the join URL on the other address", lambda d: f"//{other}:" in by_testid(d, "join-url").text)
        picked_url = by_testid(desktop, "join-url").text
        assert picked_url.split("#k=")[1] == first_url.split("#k=")[1], "same party, same key"
        until(desktop, "the party line naming the picked address", lambda d: f"{other}:" in by_testid(d, "party-meta").text)
        wait_for_qr(display, out / "02-lan-address-picked.png", expect=picked_url)
        step(f"address picker offers {options}; picked {other}: the QR code on screen now decodes to {picked_url}")

        phone = e2e.phone_browser(tmp, logs, hosts=(A_ETH0, A_ETH1))
        phone.get(picked_url)
        until(phone, "the phone's join screen", lambda d: visible(d, "name-input")).send_keys("Noor")
        by_testid(phone, "join-button").click()
        until(phone, "the phone to be connected",
              lambda d: visible(d, "screen-party") and by_testid(d, "connection-state").get_attribute("data-state") == "connected")
        until(desktop, "Noor in the app's list", lambda d: e2e.member_row(d, "Noor"))
        step(f"a phone on host A's {other} network scanned it and joined: listed in the app")

        # ---- 2. Browse finds Kitchen, live ---------------------------------------------------------
        by_testid(desktop, "tab-browse").click()
        until(desktop, "Kitchen in the Browse list", lambda d: browse_item(d, "Kitchen"), timeout=30)
        until(desktop, "our own party, marked", lambda d: d.find_elements(By.CSS_SELECTOR, '[data-testid="browse-item-own"]'))
        meta = item_meta(desktop, "Kitchen")
        assert f":{kitchen['port']}" in meta and "0 of" in meta and "locked" not in meta, meta
        screenshot(display, out / "03-lan-browse.png", desktop)
        step(f"Browse lists Kitchen ({meta!r}) and marks the app's own party")

        kitchen_do("lock")
        until(desktop, "Kitchen shown locked, without a click", lambda d: "locked" in item_meta(d, "Kitchen"), timeout=15)
        join_button = browse_item(desktop, "Kitchen").find_element(By.CSS_SELECTOR, '[data-testid="browse-item-join"]')
        assert not join_button.is_enabled(), "a locked party is not offered"
        screenshot(display, out / "04-lan-browse-locked.png", desktop)
        kitchen_do("unlock")
        until(desktop, "Kitchen unlocked again", lambda d: "locked" not in item_meta(d, "Kitchen"), timeout=15)
        step("Kitchen locked and unlocked on host B: the list followed, live")

        # ---- 3. join Kitchen -------------------------------------------------------------------
        browse_item(desktop, "Kitchen").find_element(By.CSS_SELECTOR, '[data-testid="browse-item-join"]').click()
        assert by_testid(desktop, "join-address").get_attribute("value").endswith(f":{kitchen['port']}")
        by_testid(desktop, "join-code").send_keys(kitchen["roomCode"].lower())
        name = by_testid(desktop, "join-name")
        name.clear()
        name.send_keys("Desk")
        by_testid(desktop, "join-button").click()
        until(desktop, "joined Kitchen", lambda d: visible(d, "browse-joined") and by_testid(d, "joined-status").text == "Connected")
        until(desktop, "Kitchen's members", lambda d: len(d.find_elements(By.CSS_SELECTOR, '[data-testid="joined-member"]')) == 2)
        assert by_testid(desktop, "joined-name").text == "Kitchen"
        wait_line(events, "Desk joined", lambda v: v.get("event") == "member_joined" and "Desk" in json.dumps(v))
        screenshot(display, out / "05-lan-joined-kitchen.png", desktop)
        step("joined Kitchen from Browse with its room code: host B saw Desk join; the app lists Kitchen's 2 members")

        # ---- 4. Kitchen ends -------------------------------------------------------------------
        kitchen_do("close")
        until(desktop, "the party-over notice", lambda d: visible(d, "joined-ending") and "ended" in by_testid(d, "joined-ending").text)
        by_testid(desktop, "back-button").click()
        until(desktop, "Kitchen gone from the list", lambda d: visible(d, "browse-pick") and not browse_item(d, "Kitchen"), timeout=15)
        screenshot(display, out / "06-lan-kitchen-gone.png", desktop)
        step("Kitchen ended: the joined view says so, and it left the Browse list")

        # ---- 5. the picked address is remembered -----------------------------------------------
        desktop.quit()
        desktop = None
        desktop = launch()
        until(desktop, "hosting again", lambda d: by_testid(d, "join-url").text)
        again = by_testid(desktop, "join-url").text
        assert f"//{other}:" in again, f"relaunched with {again}, wanted the remembered {other}"
        wait_for_qr(display, out / "07-lan-relaunch.png", expect=again)
        step(f"relaunched: the QR code holds the remembered address ({again})")
        print("lan: PASS", flush=True)
    except Exception:
        e2e.failure_screenshots(display, phone, out)
        raise
    finally:
        e2e.quit_all(procs, phone, desktop)


def inside_follow(args):
    """Host C: only loopback at launch, then an address on its link, then another."""
    app = args.app
    out = Path(args.out)
    logs = out / "logs"
    tmp = Path(args.tmp)
    procs = Procs()
    desktop = display = None
    try:
        display = start_xvfb(procs, logs)
        env = dict(os.environ)
        for k in ("WAYLAND_DISPLAY", "DBUS_SESSION_BUS_ADDRESS", "PARTYLINE_BIND", "WEBKIT_DISABLE_DMABUF_RENDERER"):
            env.pop(k, None)
        env.update({
            "DISPLAY": display, "GDK_BACKEND": "x11", "NO_AT_BRIDGE": "1", "PARTYLINE_NO_MDNS": "1",
            "PARTYLINE_DATA_DIR": str(tmp / "follow-data"),
            "XDG_CONFIG_HOME": str(tmp / "follow-config"), "XDG_DATA_HOME": str(tmp / "follow-data"),
            "XDG_CACHE_HOME": str(tmp / "cache"), "RUST_LOG": "warn,partyline_desktop=debug,partyline_host=info",
        })
        desktop = e2e.launch_app(e2e.start_tauri_driver(procs, logs, env), app, logs)
        until(desktop, "hosting", lambda d: by_testid(d, "join-url").text)
        lonely = by_testid(desktop, "join-url").text
        assert lonely.startswith("http://127.0.0.1:"), f"with only loopback the URL is {lonely}"
        until(desktop, "the no-network advice", lambda d: visible(d, "host-warnings"))
        advice = by_testid(desktop, "host-warnings").text
        assert "Connect this computer to the Wi-Fi your guests use; the code will update by itself" in advice, advice
        assert "--" not in advice and "interface" not in advice.lower(), f"the advice names a flag: {advice!r}"
        wait_for_qr(display, out / "08-follow-no-network.png", expect=lonely)
        step(f"host C with only loopback: the QR code holds {lonely}; the screen says {advice!r}")

        ip("addr", "add", f"{C_FIRST}/24", "dev", "eth0")
        t0 = time.monotonic()
        until(desktop, "the URL on the new address", lambda d: f"//{C_FIRST}:" in by_testid(d, "join-url").text,
              timeout=FOLLOW_WAIT)
        joined = by_testid(desktop, "join-url").text
        shown = time.monotonic() - t0
        wait_for_qr(display, out / "09-follow-address-added.png", expect=joined, timeout=FOLLOW_WAIT)
        took = time.monotonic() - t0
        assert joined.split("#k=")[1] == lonely.split("#k=")[1] and joined.split(":")[2] == lonely.split(":")[2], \
            f"the same party (key and port): {joined} vs {lonely}"
        assert not visible(desktop, "host-warnings"), by_testid(desktop, "host-warnings").text
        info = e2e.api_info_at(joined)
        step(f"{C_FIRST} added to eth0 after launch: the page shows it after {shown:.1f} s, the QR code on screen "
             f"decodes to {joined} after {took:.1f} s "
             f"(the same key and port; the advice gone; /api/info answers there: {info['name']!r})")

        ip("addr", "del", f"{C_FIRST}/24", "dev", "eth0")
        ip("addr", "add", f"{C_LEASE}/24", "dev", "eth0")
        until(desktop, "the URL on the new lease", lambda d: f"//{C_LEASE}:" in by_testid(d, "join-url").text,
              timeout=FOLLOW_WAIT)
        leased = by_testid(desktop, "join-url").text
        wait_for_qr(display, out / "10-follow-new-lease.png", expect=leased, timeout=FOLLOW_WAIT)
        step(f"the address replaced by {C_LEASE}: the QR code decodes to {leased}")
        print("lan follow: PASS", flush=True)
    except Exception:
        e2e.failure_screenshots(display, None, out)
        raise
    finally:
        e2e.quit_all(procs, desktop)


def outside_follow(args, tmp):
    """Host C: a namespace whose one link (eth0, a veth to a peer namespace) has no address."""
    tag = f"plf{os.getpid() % 100000}"
    c, peer = tag + "c", tag + "p"
    made = []
    try:
        for ns in (c, peer):
            ip("netns", "add", ns)
            made.append(ns)
        ip("link", "add", tag + "vc", "type", "veth", "peer", "name", tag + "vp")
        ip("link", "set", tag + "vc", "netns", c)
        ip("link", "set", tag + "vp", "netns", peer)
        ip("-n", c, "link", "set", tag + "vc", "name", "eth0")
        ip("-n", c, "link", "set", "eth0", "up")
        ip("-n", c, "link", "set", "lo", "up")
        ip("-n", peer, "link", "set", tag + "vp", "up")
        child = [sys.executable, __file__, "--inside-follow", "--app", args.app, "--cli", args.cli, "--out", str(args.out),
                 "--tmp", str(tmp)]
        return subprocess.run(["ip", "netns", "exec", c, *child]).returncode
    finally:
        for ns in made:
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)


def outside(args):
    """Builds the LAN, starts Kitchen on host B, runs `inside` on host A, cleans up."""
    if os.geteuid() != 0:
        raise SystemExit("lan.py builds its LAN with `ip netns`: run it as root")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob("*.png"):
        old.unlink()
    (out / "logs").mkdir(exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix="partyline-lan-"))
    sync = tmp / "sync"
    sync.mkdir()
    lan = Lan()
    kitchen = None
    try:
        kitchen = subprocess.Popen(
            ["ip", "netns", "exec", lan.b, args.cli, "host", "--no-store", "--name", "Kitchen", "--json", "--no-qr"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=open(out / "logs" / "kitchen.log", "w"), text=True,
        )
        first = kitchen.stdout.readline()
        if not first:
            raise SystemExit("Kitchen (partyline host on host B) did not start: see logs/kitchen.log")
        (sync / "kitchen.json").write_text(first)
        events = open(sync / "kitchen-events", "w")

        def pump():
            for line in kitchen.stdout:
                events.write(line)
                events.flush()
        threading.Thread(target=pump, daemon=True).start()
        (sync / "commands").write_text("")

        def forward_commands(stop):
            seen = 0
            while not stop.is_set():
                lines = (sync / "commands").read_text().splitlines()
                for line in lines[seen:]:
                    try:
                        kitchen.stdin.write(line + "\n")
                        kitchen.stdin.flush()
                    except (BrokenPipeError, ValueError):
                        return
                seen = len(lines)
                time.sleep(0.1)
        stop = threading.Event()
        threading.Thread(target=forward_commands, args=(stop,), daemon=True).start()

        child = [sys.executable, __file__, "--inside", "--app", args.app, "--cli", args.cli, "--out", str(out),
                 "--tmp", str(tmp), "--sync", str(sync)]
        rc = subprocess.run(["ip", "netns", "exec", lan.a, *child]).returncode
        stop.set()
        return rc or outside_follow(args, tmp)
    finally:
        if kitchen is not None and kitchen.poll() is None:
            kitchen.terminate()
            try:
                kitchen.wait(5)
            except subprocess.TimeoutExpired:
                kitchen.kill()
        lan.close()
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--app", required=True, help="the partyline-desktop binary")
    ap.add_argument("--cli", required=True, help="the partyline binary (host B)")
    ap.add_argument("--out", required=True, help="directory for screenshots and logs")
    ap.add_argument("--keep", action="store_true", help="keep the temporary directory")
    ap.add_argument("--inside", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--inside-follow", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--tmp", help=argparse.SUPPRESS)
    ap.add_argument("--sync", help=argparse.SUPPRESS)
    args = ap.parse_args()
    args.app = str(Path(args.app).resolve())
    args.cli = str(Path(args.cli).resolve())
    if args.inside:
        inside(args)
        return 0
    if args.inside_follow:
        inside_follow(args)
        return 0
    return outside(args)


if __name__ == "__main__":
    sys.exit(main())
