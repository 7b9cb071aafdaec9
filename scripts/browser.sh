#!/usr/bin/env bash
# Debian's Chromium for the console's end-to-end tests (driven by Playwright's Python
# package, which the dev extra installs; no browser is downloaded), and a CJK font so that
# the pages' Chinese renders as glyphs, not boxes, in the tests' screenshots. Installs what
# is missing.
set -euo pipefail
missing=()
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
fc-list 2>/dev/null | grep -q "Noto Sans CJK" || missing+=(fonts-noto-cjk)
if [ ${#missing[@]} -gt 0 ]; then
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}") >/dev/null 2>&1
fi
chromium --version
fc-list :lang=zh family | grep -m1 "Noto Sans CJK SC"
