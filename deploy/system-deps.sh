#!/usr/bin/env bash
# Install the Debian packages kosprice needs when they are missing.
#
# `system-deps.sh venv` (run by `make install` before it creates .venv): Debian's python3
# ships without ensurepip, so `python3 -m venv` fails until `python3-venv` is installed.
# Nothing else is needed for the virtualenv: pip comes from ensurepip, not `python3-pip`.
#
# `system-deps.sh` (run by `make test`): the packages the test suite uses:
#   redis-server    the monitoring store tests start their own when none listens on 6379
#   prometheus      promtool checks the alert rules; the e2e tests scrape a live server with it
#   docker-compose  parses docker-compose.yml offline (`config -q`); no engine is needed
#   chromium        the browser tests drive it headless with Playwright (never a downloaded one)
#   wrk             the benchmark's smoke test drives a short round with it
#   stress-ng       a CPU hog: tests and drills that must hold on a loaded machine load it
#   haproxy         the load balancer in front of two kosprice hosts (tests/e2e/test_two_hosts.py)
# tests/deploy/test_k8s.py also renders the manifests with `kustomize build` or `kubectl
# kustomize`: kubectl comes with the machine image (Google's package); Debian's own
# kubernetes-client (1.20) embeds a kustomize too old for deploy/k8s, so it is not installed here.
# `system-deps.sh bench` (run by `make bench`): the load generator and the Redis it monitors to:
#   wrk             drives the HTTP rounds of benchmarks/predict.py
#   redis-server    started by the benchmark when no Redis answers on 127.0.0.1:6379
# Outside CI a missing test package only warns (the tests that need it skip and say why);
# with CI=true it is an error.
#
# Packages are installed with apt-get only when running as root; otherwise the script says
# what to install. When everything is present it does nothing.
set -euo pipefail

can_apt_get() {
    [ "${EUID}" -eq 0 ] && command -v apt-get >/dev/null
}

apt_install() {
    echo "installing Debian packages: $*"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

venv_deps() {
    local python="${PYTHON:-python3}"
    "${python}" -c "import ensurepip, venv" 2>/dev/null && return 0
    if can_apt_get; then
        apt_install python3-venv
        "${python}" -c "import ensurepip, venv" && return 0
        echo "${python} still cannot create a virtualenv after installing python3-venv" \
             "(is ${python} Debian's default python3? then install its own pythonX.Y-venv)" >&2
    else
        echo "${python} cannot create a virtualenv: its ensurepip module is missing." \
             "Install Debian's python3-venv as root (apt-get install python3-venv)," \
             "or run \`make install\` as root once." >&2
    fi
    return 1
}

test_deps() {
    local missing=()
    command -v redis-server >/dev/null || missing+=(redis-server)
    command -v promtool >/dev/null && command -v prometheus >/dev/null || missing+=(prometheus)
    command -v docker-compose >/dev/null || missing+=(docker-compose)
    command -v chromium >/dev/null || missing+=(chromium)
    command -v haproxy >/dev/null || [ -x /usr/sbin/haproxy ] || missing+=(haproxy)
    command -v wrk >/dev/null || missing+=(wrk)
    command -v stress-ng >/dev/null || missing+=(stress-ng)
    [ ${#missing[@]} -eq 0 ] && return 0
    if can_apt_get; then
        apt_install "${missing[@]}"
    else
        echo "missing Debian packages: ${missing[*]} (install them with apt-get as root)" >&2
        [ "${CI:-}" != "true" ] || return 1
    fi
}

bench_deps() {
    local missing=()
    command -v wrk >/dev/null || missing+=(wrk)
    command -v redis-server >/dev/null || missing+=(redis-server)
    [ ${#missing[@]} -eq 0 ] && return 0
    if can_apt_get; then
        apt_install "${missing[@]}"
    else
        echo "missing Debian packages: ${missing[*]} (install them with apt-get as root)" >&2
        return 1
    fi
}

case "${1:-test}" in
    venv) venv_deps ;;
    test) test_deps ;;
    bench) bench_deps ;;
    *) echo "usage: $0 [venv|test|bench]" >&2; exit 2 ;;
esac
