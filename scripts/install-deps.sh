#!/bin/sh
# install-deps.sh — installs the Debian packages deepc needs, skipping those
# already present. --bench adds the reference frameworks for `make bench`,
# --fuzz clang and its sanitizer and OpenMP runtimes for `make fuzz`.
set -e
PKGS="gcc make pkg-config python3 zlib1g-dev libpng-dev libjpeg-dev libplplot-dev \
plplot-driver-cairo libcjson-dev libinih-dev dataset-fashion-mnist fortunes wamerican \
libzip-dev libhdf5-dev"
if [ "$1" = "--fuzz" ]; then
    PKGS="$PKGS clang libclang-rt-dev libomp-dev"
fi
if [ "$1" = "--bench" ]; then
    PKGS="$PKGS python3-torch python3-numpy libopenblas-dev libdnnl-dev python3-venv"
fi
missing=""
for p in $PKGS; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing="$missing $p"
    fi
done
[ -z "$missing" ] && exit 0
echo "install-deps: installing$missing"
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
# shellcheck disable=SC2086
$SUDO apt-get install -y -q --no-install-recommends $missing
