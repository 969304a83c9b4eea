#!/usr/bin/env bash
# install-chromium.sh makes sure a headless-capable Chromium is installed for
# the browser test (make browser). On Debian it installs the distribution's
# "chromium" package with apt-get; it does nothing when chromium is already
# on PATH, and skips "apt-get update" when the package is already known to
# be installed, so running it twice is cheap. It prints the version.
set -euo pipefail

if ! command -v chromium >/dev/null 2>&1; then
  if ! command -v apt-get >/dev/null 2>&1; then
    echo "install-chromium: chromium is not on PATH and apt-get is missing;" >&2
    echo "install Chromium (or Chrome) by hand and put it on PATH as 'chromium'." >&2
    exit 1
  fi
  sudo=""
  if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then
      sudo="sudo"
    else
      echo "install-chromium: need root (or sudo) to apt-get install chromium" >&2
      exit 1
    fi
  fi
  export DEBIAN_FRONTEND=noninteractive
  status="$(dpkg-query -W -f='${Status}' chromium 2>/dev/null || true)"
  if [ "$status" != "install ok installed" ]; then
    $sudo apt-get update
  fi
  $sudo apt-get install -y --no-install-recommends chromium fonts-dejavu-core
fi

chromium --version
