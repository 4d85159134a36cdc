#!/usr/bin/env bash
# Installs the independent mDNS peers and tools the discovery tests drive:
#   - python-zeroconf (PyPI `zeroconf`): browses and advertises against our implementation;
#   - avahi-daemon + avahi-utils (avahi-browse) and dbus (a private bus for avahi-daemon);
#   - zbar-tools (zbarimg) to decode our QR codes;
#   - iproute2 and util-linux (ip, unshare) to build the private network namespaces.
# Run once per machine before `cargo test -p partyline-discovery` (CI: from .ci/run).
set -euo pipefail
need_apt=()
command -v avahi-browse >/dev/null || need_apt+=(avahi-utils)
command -v avahi-daemon >/dev/null || need_apt+=(avahi-daemon)
command -v dbus-daemon >/dev/null || need_apt+=(dbus)
command -v zbarimg >/dev/null || need_apt+=(zbar-tools)
command -v ip >/dev/null || need_apt+=(iproute2)
command -v unshare >/dev/null || need_apt+=(util-linux)
if ((${#need_apt[@]})); then
  apt-get update -q
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${need_apt[@]}"
fi
python3 -c 'import zeroconf' 2>/dev/null || python3 -m pip install -q 'zeroconf>=0.130'
