#!/usr/bin/env bash
# For each image that infra/docker-compose.yaml and infra/Dockerfile name and this machine does not have, builds a
# stand-in from Debian's packages of the same software (infra/smoke/<service>/Dockerfile) and tags it with that exact
# name, so that the compose file itself runs unchanged. An image already here without our label is the official one
# and is used as it is. Stand-ins carry the label dev.exam-slots.stand-in=<hash of their sources>, and are rebuilt
# only when that hash changes: a second run reuses them. Their base is Debian bookworm from debootstrap (minbase),
# imported once as exam-slots-smoke/debian:bookworm-minbase. Nothing is pulled from an image registry; the builds
# reach Debian's archive and the npm registry, as the host does.
#
#   bash infra/smoke/stand-ins.sh           build what is missing
#   bash infra/smoke/stand-ins.sh --remove  remove every stand-in and the base (the next run is a cold one)
set -euo pipefail

root="$(cd "$(dirname "$0")/../.." && pwd)"
smoke="$root/infra/smoke"
base_image="exam-slots-smoke/debian:bookworm-minbase"
label="dev.exam-slots.stand-in"
export DOCKER_BUILDKIT=0

work="$(mktemp -d)"
cleanup() {
  # debootstrap mounts /proc and /sys inside its target while it runs: unmount before removing anything.
  findmnt -rn -o TARGET | { grep "^$work/" || true; } | sort -r | xargs -r umount -l
  rm -rf "$work"
}
trap cleanup EXIT

log() { printf '[stand-ins] %s\n' "$*" >&2; }

# The image of a service in infra/docker-compose.yaml (services at two spaces of indentation, their keys at four).
compose_image() {
  awk -v service="$1" '
    $0 == "  " service ":" { inside = 1; next }
    inside && /^  [^ ]/ { exit }
    inside && $1 == "image:" { print $2; exit }
  ' "$root/infra/docker-compose.yaml"
}

deno_image="$(sed -n 's/^FROM //p' "$root/infra/Dockerfile" | head -1)"
deno_version="${deno_image##*:}"

if [ "${1:-}" = --remove ]; then
  for image in $(docker image ls --filter "label=$label" --format '{{.Repository}}:{{.Tag}}') "$base_image"; do
    docker image rm "$image" >/dev/null 2>&1 && log "removed $image" || true
  done
  exit 0
fi

# Debian's archive as the host's apt reaches it (deb822 or one-line sources), else deb.debian.org.
archive_uri() {
  local suffix="$1" uri
  uri="$(cat /etc/apt/sources.list.d/*.sources 2>/dev/null | sed -n 's/^URIs: *//p' | tr ' ' '\n' |
    grep -E "/$suffix/?\$" | head -1 || true)"
  [ -n "$uri" ] || uri="$(sed -n "s/^deb \(\[[^]]*\] \)\?\(\S*\/$suffix\/\?\) .*/\2/p" /etc/apt/sources.list 2>/dev/null |
    head -1 || true)"
  echo "${uri:-http://deb.debian.org/$suffix}"
}

build_base() {
  if docker image inspect "$base_image" >/dev/null 2>&1; then return; fi
  local mirror security rootfs="$work/rootfs"
  mirror="$(archive_uri debian)"
  security="$(archive_uri debian-security)"
  log "debootstrap bookworm (minbase) from $mirror"
  debootstrap --variant=minbase bookworm "$rootfs" "$mirror" >"$work/debootstrap.log" 2>&1 ||
    { tail -20 "$work/debootstrap.log" >&2; return 1; }
  cat >"$rootfs/etc/apt/sources.list" <<EOF
deb $mirror bookworm main
deb $mirror bookworm-updates main
deb $security bookworm-security main
EOF
  # As in Debian's own container images: no daemons started by package scripts, no recommends, no docs.
  printf '#!/bin/sh\nexit 101\n' >"$rootfs/usr/sbin/policy-rc.d"
  chmod +x "$rootfs/usr/sbin/policy-rc.d"
  printf 'APT::Install-Recommends "false";\nAPT::Install-Suggests "false";\n' >"$rootfs/etc/apt/apt.conf.d/90stand-in"
  printf 'path-exclude /usr/share/doc/*\npath-include /usr/share/doc/*/copyright\npath-exclude /usr/share/man/*\npath-exclude /usr/share/locale/*\n' \
    >"$rootfs/etc/dpkg/dpkg.cfg.d/90stand-in"
  rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/* "$rootfs"/usr/share/doc/* "$rootfs"/usr/share/man/*
  tar -C "$rootfs" --numeric-owner -c . |
    docker import --change 'CMD ["bash"]' --change "LABEL $label=base" - "$base_image" >/dev/null
  log "imported $base_image"
}

# The stand-in label of an image here ("" for an official image); fails when the image is not here.
label_of() { docker image inspect -f "{{ index .Config.Labels \"$label\" }}" "$1" 2>/dev/null | sed 's/<no value>//'; }
official() { local found; found="$(label_of "$1")" && [ -z "$found" ]; }

# Builds `image` from `dockerfile` in `context` (the remaining arguments go to docker build) unless the official image
# is here or a stand-in of the same sources; `inputs` names what else the stand-in is made from (its base's id).
stand_in() {
  local image="$1" dockerfile="$2" context="$3" inputs="$4"
  shift 4
  if official "$image"; then log "$image: the official image is here, used as it is" && return; fi
  local hash
  hash="$( (cd "$context" && find . -type f -print0 | sort -z | xargs -0 sha256sum) | sha256sum | cut -c1-16)"
  hash="$(printf '%s %s %s %s' "$hash" "$(sha256sum <"$dockerfile")" "$inputs" "$*" | sha256sum | cut -c1-16)"
  if [ "$(label_of "$image" || true)" = "$hash" ]; then log "$image: stand-in up to date" && return; fi
  log "$image: building the stand-in"
  local output="$work/build.log" previous
  previous="$(docker image inspect -f '{{.Id}}' "$image" 2>/dev/null || true)"
  docker build --force-rm --label "$label=$hash" -t "$image" -f "$dockerfile" "$@" "$context" >"$output" 2>&1 ||
    { tail -30 "$output" >&2; return 1; }
  # The stand-in it replaces, now untagged (it stays while an image built on it still needs it).
  [ -z "$previous" ] || docker image rm "$previous" >/dev/null 2>&1 || true
}

image_id() { docker image inspect -f '{{.Id}}' "$1"; }

build_base
base_id="$(image_id "$base_image")"

for service in postgres redis nginx; do
  stand_in "$(compose_image "$service")" "$smoke/$service/Dockerfile" "$smoke/$service" "$base_id" \
    --build-arg "BASE=$base_image"
done

# Deno: the binary of npm's package for this platform, at the version the api's Dockerfile names.
case "$(uname -m)" in
  x86_64) deno_package="@deno/linux-x64-glibc" ;;
  aarch64) deno_package="@deno/linux-arm64-glibc" ;;
  *) log "no Deno package for $(uname -m)" && exit 1 ;;
esac
mkdir "$work/deno"
if ! official "$deno_image"; then
  tarball="$(cd "$work" && npm pack --silent "$deno_package@$deno_version")"
  tar -xzf "$work/$tarball" -C "$work/deno" --strip-components=1 package/deno
  cp "$smoke/deno/docker-entrypoint.sh" "$work/deno/"
  cat /etc/ssl/certs/ca-certificates.crt >"$work/deno/ca-certificates.crt" 2>/dev/null || true
fi
stand_in "$deno_image" "$smoke/deno/Dockerfile" "$work/deno" "$base_id" \
  --build-arg "BASE=$base_image" --build-arg "DENO_VERSION=$deno_version"

# The Upstash REST proxy: the project's own, on that Deno image.
mkdir "$work/redis-http"
tar -C "$root" -c harness/upstash-proxy.ts harness/resp.ts infra/smoke/redis-http/main.ts | tar -C "$work/redis-http" -x
stand_in "$(compose_image redis-http)" "$smoke/redis-http/Dockerfile" "$work/redis-http" "$(image_id "$deno_image")" \
  --build-arg "DENO_IMAGE=$deno_image"
