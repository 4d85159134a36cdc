#!/usr/bin/env python3
"""Advertise Partyline sessions with python-zeroconf until standard input closes.

Used by the discovery crate's tests as an independent mDNS implementation. Each argument is one
service: `INSTANCE|PORT|key=value,key=value,...` on 127.0.0.1. Prints `registered` once all are
announced; on end of input it unregisters them (goodbye packets) and exits.

usage: zc_advertise.py SPEC [SPEC...]
"""
import socket
import sys

from zeroconf import ServiceInfo, Zeroconf

TYPE = "_partyline._tcp.local."


def parse(spec: str) -> ServiceInfo:
    instance, port, txt = spec.split("|", 2)
    props = dict(kv.split("=", 1) for kv in txt.split(",") if kv)
    return ServiceInfo(
        TYPE,
        f"{instance}.{TYPE}",
        addresses=[socket.inet_aton("127.0.0.1")],
        port=int(port),
        properties=props,
        server="zc-peer.local.",
    )


def main() -> int:
    infos = [parse(s) for s in sys.argv[1:]]
    zc = Zeroconf()
    try:
        for info in infos:
            zc.register_service(info)
        print("registered", flush=True)
        sys.stdin.read()
        for info in infos:
            zc.unregister_service(info)
        print("unregistered", flush=True)
        return 0
    finally:
        zc.close()


if __name__ == "__main__":
    sys.exit(main())
