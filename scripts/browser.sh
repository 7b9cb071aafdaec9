#!/usr/bin/env bash
# Debian's Chromium for the console's end-to-end tests (driven by Playwright's Python
# package, which the dev extra installs; no browser is downloaded). Installs it when missing.
set -euo pipefail
if ! command -v chromium >/dev/null 2>&1; then
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium) >/dev/null 2>&1
fi
chromium --version
