#!/usr/bin/env bash
# install-etcd.sh makes sure an etcd server is installed for the tests of
# the etcd store (make etcd-test): Debian's "etcd-server" package, installed
# with apt-get. It does nothing when etcd is already on PATH (or ALUR_ETCD
# names a binary) and prints the version.
set -euo pipefail

# first_line prints the first line of its argument. The version is captured
# whole rather than piped into head: with pipefail, head exiting early can
# kill etcd with SIGPIPE and fail the script.
first_line() { printf '%s\n' "${1%%$'\n'*}"; }

if [ -n "${ALUR_ETCD:-}" ]; then
  first_line "$("$ALUR_ETCD" --version)"
  exit 0
fi
if ! command -v etcd >/dev/null 2>&1; then
  if ! command -v apt-get >/dev/null 2>&1; then
    echo "install-etcd: etcd is not on PATH and apt-get is missing;" >&2
    echo "install an etcd server (3.4 or later) by hand, or set ALUR_ETCD to its binary." >&2
    exit 1
  fi
  sudo=""
  if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then
      sudo="sudo"
    else
      echo "install-etcd: need root (or sudo) to apt-get install etcd-server" >&2
      exit 1
    fi
  fi
  export DEBIAN_FRONTEND=noninteractive
  status="$(dpkg-query -W -f='${Status}' etcd-server 2>/dev/null || true)"
  if [ "$status" != "install ok installed" ]; then
    $sudo apt-get update
  fi
  $sudo apt-get install -y --no-install-recommends etcd-server
fi
first_line "$(etcd --version)"
