# shellcheck shell=bash
# Container images the testbed makes from Debian's busybox-static, nothing pulled. Sourced by `up`
# after lib.sh (a test of this step alone: `source lib.sh; source images.sh; ensure_public_images`).
#
# - PUBLIC_IMAGES (lib.sh): the ordinary public references the examples name (`busybox:1.36.1`).
#   The testbed loads a stand-in under that exact reference, shaped like the official image (applets
#   in /bin, /etc/passwd, CMD sh, no /www), so the examples' Compose files and charts run here
#   without internet, and unchanged on a user's machine with the real image. Compose only pulls a
#   missing image (`docker-compose` 1.29 and `docker compose` alike), so nothing is pulled.
# - margo/echo:1, the testbed's own image, is built by ensure_image in `up` from the same rootfs.

# busybox_rootfs DIR : a minimal rootfs of the static busybox with its applets as symlinks in /bin.
busybox_rootfs() {
  local root="$1" bb a
  bb="$(dpkg -L busybox-static | grep -E '/bin/busybox$' | head -1)"
  [ -x "$bb" ] || die "busybox-static binary not found"
  rm -rf "$root"; mkdir -p "$root"/{bin,etc,tmp,root,home,proc,sys,dev,var/run}
  chmod 1777 "$root/tmp"
  cp "$bb" "$root/bin/busybox"
  for a in $("$root/bin/busybox" --list); do [ "$a" = busybox ] || ln -sf busybox "$root/bin/$a"; done
  ln -s bin "$root/sbin"; mkdir -p "$root/usr"; ln -s ../bin "$root/usr/bin"; ln -s ../bin "$root/usr/sbin"
  printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' > "$root/etc/passwd"
  printf 'root:x:0:\nnogroup:x:65534:\n' > "$root/etc/group"
}

# image_key FILE... -- CHANGE... : the content key of an image built by this file from the
# busybox-static binary, the given files and the `docker import --change` arguments. Checked before
# anything is built, so a cached `up` costs one `docker image inspect` per image.
image_key() {
  local bb; bb="$(dpkg -L busybox-static | grep -E '/bin/busybox$' | head -1)"
  { sha256sum "$bb" "${BASH_SOURCE[0]}"; while [ $# -gt 0 ]; do
      if [ "$1" = -- ]; then shift; printf '%s\n' "$@"; break; fi
      if [ -d "$1" ]; then (cd "$1" && find . -type f | LC_ALL=C sort | xargs sha256sum); else sha256sum "$1"; fi
      shift
    done; } | sha256sum | cut -c1-16
}
image_current() { # image_current REF KEY
  [ "$(docker image inspect -f '{{ index .Config.Labels "org.margo.testbed.hash" }}' "$1" 2>/dev/null || true)" = "$2" ]
}
# import_rootfs DIR REF KEY [--change ...] : DIR as a deterministic tar imported as REF, labelled KEY.
import_rootfs() {
  local root="$1" ref="$2" key="$3"; shift 3
  log "image: importing $ref"
  tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -C "$root" -cf "$root.tar" .
  docker import "$@" --change "LABEL org.margo.testbed.hash=$key" "$root.tar" "$ref" >/dev/null
  rm -f "$root.tar"
}

# ensure_public_images : every PUBLIC_IMAGES reference present in the Docker engine. A reference
# already present WITHOUT the testbed's label is the real image (pulled by someone): it is kept.
ensure_public_images() {
  local ref key root="$TB_DIR/image/public-rootfs"
  for ref in $PUBLIC_IMAGES; do
    case "$ref" in busybox:*) ;; *) die "no stand-in recipe for public image $ref" ;; esac
    if docker image inspect "$ref" >/dev/null 2>&1 \
      && [ -z "$(docker image inspect -f '{{ index .Config.Labels "org.margo.testbed.hash" }}' "$ref")" ]; then
      log "image: $ref present (not the testbed's stand-in); kept"
      continue
    fi
    local -a change=(--change 'CMD ["sh"]'
      --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'
      --change 'LABEL org.margo.testbed.standin=debian-busybox-static')
    key="$(image_key -- "$ref" "${change[@]}")"
    if image_current "$ref" "$key"; then log "image: $ref up to date"; continue; fi
    mkdir -p "$TB_DIR/image"
    busybox_rootfs "$root"
    import_rootfs "$root" "$ref" "$key" "${change[@]}"
    rm -rf "$root"
  done
}
