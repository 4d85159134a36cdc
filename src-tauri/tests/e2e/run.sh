#!/usr/bin/env bash
# End-to-end tests of the desktop app under Xvfb (WebDriver on both sides: tauri-driver +
# WebKitWebDriver for the app, chromedriver for a headless Chromium "phone"):
#   e2e.py  on loopback, mDNS off: launch, screenshot, decode the QR code, join from the phone,
#           see the member, kick it, lock, rename, capacity, Browse-join, SyncPlay, announce,
#           chat (the host deletes a line), new key, stop. First, as a user expects a desktop
#           app: one instance (a private D-Bus), the window's size and title, Choose…, the close
#           that asks, the party across a kill -9 (restored notice, the phone resumes), New party.
#   lan.py  on a simulated LAN of two hosts (private network namespaces it makes; needs root):
#           address picker, Browse finding another host live, joining it, its goodbye; then a
#           host with only loopback whose QR code follows an address added after launch.
# Screenshots: tests/output/desktop/ and tests/output/desktop-lan/. Installs nothing: run
# scripts/desktop-deps first.
#   src-tauri/tests/e2e/run.sh [--keep]
set -euo pipefail
cd "$(dirname "$0")/../../.."

missing=()
for tool in Xvfb import zbarimg chromium chromedriver WebKitWebDriver tauri-driver python3 ip; do
  command -v "$tool" >/dev/null || missing+=("$tool")
done
python3 -c 'import selenium' 2>/dev/null || missing+=("python3 selenium")
import -version 2>/dev/null | grep -q ImageMagick || missing+=("ImageMagick")
if ((${#missing[@]})); then
  echo "e2e: missing: ${missing[*]}. Run scripts/desktop-deps first." >&2
  exit 2
fi

cargo build --locked -p partyline-desktop -p partyline-cli
target_dir=$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
python3 src-tauri/tests/e2e/e2e.py --app "$target_dir/debug/partyline-desktop" --out tests/output/desktop "$@"
python3 src-tauri/tests/e2e/lan.py --app "$target_dir/debug/partyline-desktop" --cli "$target_dir/debug/partyline" \
  --out tests/output/desktop-lan "$@"
