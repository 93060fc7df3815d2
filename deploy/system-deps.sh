#!/usr/bin/env bash
# Install the Debian packages the test suite needs when they are missing:
# redis-server (the monitoring store tests start their own when none listens on 6379).
set -euo pipefail
missing=()
command -v redis-server >/dev/null || missing+=(redis-server)
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
    echo "installing Debian packages: ${missing[*]}"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
else
    echo "missing Debian packages: ${missing[*]} (install them with apt-get as root)" >&2
    [ "${CI:-}" != "true" ] || exit 1
fi
