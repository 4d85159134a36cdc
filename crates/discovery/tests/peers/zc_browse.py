#!/usr/bin/env python3
"""Browse _partyline._tcp.local. with python-zeroconf until INSTANCE resolves; print what it saw.

Used by the discovery crate's tests as an independent mDNS implementation. Prints one
`key=value` line per fact (sorted TXT entries as `txt:key=value`) and exits 0, or exits 1 after
TIMEOUT seconds without finding INSTANCE.

usage: zc_browse.py INSTANCE TIMEOUT
"""
import sys
import threading

from zeroconf import ServiceBrowser, ServiceStateChange, Zeroconf

TYPE = "_partyline._tcp.local."


def main() -> int:
    instance, timeout = sys.argv[1], float(sys.argv[2])
    wanted = f"{instance}.{TYPE}"
    found = threading.Event()
    zc = Zeroconf()

    def on_change(zeroconf, service_type, name, state_change):
        if state_change is ServiceStateChange.Added and name.lower() == wanted.lower():
            found.set()

    ServiceBrowser(zc, TYPE, handlers=[on_change])
    try:
        if not found.wait(timeout):
            print(f"zc_browse: {wanted!r} not found in {timeout}s", file=sys.stderr)
            return 1
        info = zc.get_service_info(TYPE, wanted, timeout=3000)
        if info is None:
            print(f"zc_browse: {wanted!r} found but did not resolve", file=sys.stderr)
            return 1
        print(f"name={info.name}")
        print(f"server={info.server}")
        print(f"port={info.port}")
        for addr in sorted(info.parsed_addresses()):
            print(f"addr={addr}")
        for key, value in sorted(info.properties.items()):
            v = "<none>" if value is None else value.decode("utf-8", "replace")
            print(f"txt:{key.decode()}={v}")
        return 0
    finally:
        zc.close()


if __name__ == "__main__":
    sys.exit(main())
