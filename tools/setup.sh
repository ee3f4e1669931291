#!/bin/sh
# Installs the Debian packages matrice builds against (idempotent; needs root or sudo).
set -e
PKGS="build-essential libjansson-dev libutf8proc-dev libpcre2-dev libopenblas-dev"
PKGS="$PKGS libopencc-dev openmpi-bin libopenmpi-dev"
missing=""
for p in $PKGS; do dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"; done
# tools/fetch_model.sh needs python3 with pip (the machine's own, or Debian's)
python3 -m pip --version >/dev/null 2>&1 || missing="$missing python3-pip"
if [ -n "$missing" ]; then
    SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $missing
fi
