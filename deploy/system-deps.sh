#!/usr/bin/env bash
# Install the Debian packages the test suite needs when they are missing:
#   redis-server    the monitoring store tests start their own when none listens on 6379
#   prometheus      promtool checks the alert rules; the e2e tests scrape a live server with it
#   docker-compose  parses docker-compose.yml offline (`config -q`); no engine is needed
# Outside CI a missing package only warns (the tests that need it skip and say why);
# with CI=true it is an error.
set -euo pipefail
missing=()
command -v redis-server >/dev/null || missing+=(redis-server)
command -v promtool >/dev/null && command -v prometheus >/dev/null || missing+=(prometheus)
command -v docker-compose >/dev/null || missing+=(docker-compose)
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
    echo "installing Debian packages: ${missing[*]}"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
        --no-install-recommends "${missing[@]}" >/dev/null
else
    echo "missing Debian packages: ${missing[*]} (install them with apt-get as root)" >&2
    [ "${CI:-}" != "true" ] || exit 1
fi
