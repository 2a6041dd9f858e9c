#!/bin/sh
# deps.sh build|test|bench — install what kvstore needs and is missing.
#
# Debian packages are installed with apt-get when running as root; otherwise the missing
# ones are listed with the command to install them, and the script fails. npm packages for
# the tests are installed from package-lock.json (npm ci) when node_modules is missing or
# older than the lock file.
set -eu
cd "$(dirname "$0")/.."

what=${1:-build}
pkgs="build-essential pkg-config libmicrohttpd-dev liblmdb-dev libjansson-dev libssl-dev \
zlib1g-dev libbrotli-dev libcurl4-openssl-dev libgnutls28-dev libpq-dev"
case "$what" in
build) ;;
test) pkgs="$pkgs nodejs npm curl openssl clang libclang-rt-dev chromium" # clang + libFuzzer: make fuzz-short; chromium: make test-console; openssl: the TLS tests
    pkgs="$pkgs postgresql" ;; # the throw-away cluster (tests/pg)
bench) pkgs="$pkgs wrk nginx-light gnuplot-nox curl postgresql valgrind" ;; # postgresql: its rows; valgrind: make bench-ir
*) echo "usage: $0 build|test|bench" >&2; exit 2 ;;
esac

missing=""
for p in $pkgs; do
    # nodejs/npm may come from outside Debian (e.g. a newer node on PATH): accept the commands.
    case "$p" in
    nodejs) command -v node >/dev/null 2>&1 && continue ;;
    npm) command -v npm >/dev/null 2>&1 && continue ;;
    esac
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done

if [ -n "$missing" ]; then
    if [ "$(id -u)" = 0 ]; then
        echo "deps: installing$missing"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq
        # shellcheck disable=SC2086
        apt-get install -y -qq --no-install-recommends $missing >/dev/null
    else
        echo "deps: missing Debian packages:$missing" >&2
        echo "deps: install them with: sudo apt-get install$missing" >&2
        exit 1
    fi
fi

if [ "$what" = test ]; then
    if [ ! -d node_modules ] || [ package-lock.json -nt node_modules ]; then
        echo "deps: installing npm packages (npm ci)"
        npm ci --no-audit --no-fund --loglevel=error
        touch node_modules
    fi
fi
