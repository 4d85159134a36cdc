#!/usr/bin/env bash
# End-to-end test of the desktop app under Xvfb: launch, screenshot, decode the QR code, join from
# a headless Chromium "phone", see the member in the app, kick it (WebDriver on both sides).
# Screenshots: tests/output/desktop/. Installs nothing: run scripts/desktop-deps first.
#   src-tauri/tests/e2e/run.sh [--keep]
set -euo pipefail
cd "$(dirname "$0")/../../.."

missing=()
for tool in Xvfb import zbarimg chromium chromedriver WebKitWebDriver tauri-driver python3; do
  command -v "$tool" >/dev/null || missing+=("$tool")
done
python3 -c 'import selenium' 2>/dev/null || missing+=("python3 selenium")
import -version 2>/dev/null | grep -q ImageMagick || missing+=("ImageMagick")
if ((${#missing[@]})); then
  echo "e2e: missing: ${missing[*]}. Run scripts/desktop-deps first." >&2
  exit 2
fi

cargo build --locked -p partyline-desktop
target_dir=$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
exec python3 src-tauri/tests/e2e/e2e.py --app "$target_dir/debug/partyline-desktop" --out tests/output/desktop "$@"
