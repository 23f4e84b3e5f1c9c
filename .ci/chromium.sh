#!/usr/bin/env bash
# A headless browser for the model report's rendering test (tests/test_model_report.py):
# Debian's Chromium, installed if missing. Never fatal: without it that one test skips and
# says why.
if command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1; then
    exit 0
fi
if [ "$(id -u)" != 0 ]; then
    echo "WARNING: Chromium is not installed and this user cannot install it; the browser test will skip" >&2
    exit 0
fi
echo "installing Chromium (Debian's package) for the model report's browser test"
export DEBIAN_FRONTEND=noninteractive
{ apt-get update -qq >/dev/null && apt-get install -y -qq chromium >/dev/null; } \
    || echo "WARNING: could not install Chromium; the browser test will skip" >&2
exit 0
