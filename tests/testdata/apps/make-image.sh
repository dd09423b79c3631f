#!/bin/bash
# The real-software test image (an OCI image layout): Debian bookworm
# minbase with Debian's nginx, PostgreSQL 15, redis, openssl and
# ca-certificates, laid out as their official images are, for the drop-in
# tests (tests/vm/test_apps.py, test_egress_ca.py). Each test picks the
# program with config.json's cmd; the image's own CMD is nginx's.
#
# - nginx as the official nginx image: access and error logs are symlinks
#   to /dev/stdout and /dev/stderr; CMD nginx -g "daemon off;"
# - PostgreSQL as the official postgres image: no cluster in the image; an
#   entrypoint script (pg-entrypoint.sh) runs initdb as the postgres user
#   on the first boot, then postgres as that user
# - redis as the official redis image: redis-entrypoint.sh runs
#   redis-server as the redis user with its data in /data
#
# Usage: make-image.sh [OUTDIR]
#   OUTDIR defaults to $HYPEMAN_CACHE/images/apps-oci-<key>, the key a hash
#   of this directory's files (the recipe): a changed recipe builds a new
#   image, an unchanged one is built once. Prints OUTDIR on its last line.
# The package set is cached as a debootstrap tarball in
# $HYPEMAN_CACHE/debootstrap/. Needs root, debootstrap and umoci; network
# only to deb.debian.org (and only when the tarball is not cached).
set -eu
# --help: the comment above on stdout, status 0
case ${1:-} in -h|--help) sed -n '2,/^[^#]/s/^# \{0,1\}//p' "$0"; exit 0 ;; esac

HERE=$(cd "$(dirname "$0")" && pwd)
CACHE=${HYPEMAN_CACHE:-/var/cache/hypeman-init}
SUITE=bookworm
MIRROR=http://deb.debian.org/debian
INCLUDE=nginx,postgresql-15,redis-server,openssl,ca-certificates
key=$(cd "$HERE" && cat make-image.sh pg-entrypoint.sh redis-entrypoint.sh | sha256sum | cut -c1-12)
OUT=${1:-$CACHE/images/apps-oci-$key}
TARBALL=$CACHE/debootstrap/$SUITE-minbase-apps-$(echo "$INCLUDE" | sha256sum | cut -c1-12).tgz

mkdir -p "$(dirname "$OUT")"
exec 9> "$OUT.lock"
flock 9
if [ -f "$OUT/index.json" ] && [ -f "$OUT/oci-layout" ]; then
    echo "make-image: $OUT already built" >&2
    echo "$OUT"
    exit 0
fi
for tool in debootstrap umoci; do
    command -v "$tool" >/dev/null || { echo "make-image: $tool not found (apt-get install $tool)" >&2; exit 1; }
done
[ "$(id -u)" = 0 ] || { echo "make-image: must run as root" >&2; exit 1; }

. "$HERE/../debootstrap.sh"
deboot_start "$OUT" "$TARBALL"
set -E
trap 'step_end $? || :' ERR
start=$(date +%s)
deboot_root $SUITE $INCLUDE $MIRROR

step_begin "laying out nginx, postgres and redis as their official images"
# nginx: logs to the container's stdout and stderr
ln -sfn /dev/stdout "$ROOT/var/log/nginx/access.log"
ln -sfn /dev/stderr "$ROOT/var/log/nginx/error.log"
# postgres: the package's cluster goes; the entrypoint makes one on first boot
rm -rf "$ROOT/etc/postgresql/15/main" "$ROOT/var/lib/postgresql/15"
install -m 0755 "$HERE/pg-entrypoint.sh" "$ROOT/usr/local/bin/pg-entrypoint.sh"
install -m 0755 "$HERE/redis-entrypoint.sh" "$ROOT/usr/local/bin/redis-entrypoint.sh"
# what a container image does not carry
rm -rf "$ROOT"/var/lib/apt/lists/* "$ROOT"/var/cache/apt/* "$ROOT"/var/log/apt/* \
       "$ROOT"/usr/share/doc/* "$ROOT"/usr/share/man/* "$ROOT"/debootstrap
for d in dev proc sys run tmp; do
    find "$ROOT/$d" -mindepth 1 -xdev -delete 2>/dev/null || true
done
chmod 1777 "$ROOT/tmp"
: > "$ROOT/etc/resolv.conf"
echo hypeman > "$ROOT/etc/hostname"
step_end

step_begin "packaging the OCI layout (umoci)"
LAYOUT=$WORK/layout
umoci init --layout "$LAYOUT"
umoci new --image "$LAYOUT:latest"
umoci insert --image "$LAYOUT:latest" \
    --history.created_by "debootstrap --variant=minbase --include=$INCLUDE $SUITE" "$ROOT" /
umoci config --image "$LAYOUT:latest" --os=linux --architecture=amd64 \
    --config.cmd=nginx --config.cmd=-g --config.cmd="daemon off;" \
    --config.env=PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    --config.exposedports=80/tcp \
    --history.created_by 'CMD ["nginx", "-g", "daemon off;"]'
umoci gc --layout "$LAYOUT"
chmod -R a+rX "$LAYOUT"
step_end

[ ! -e "$OUT" ] || mv "$OUT" "$WORK/old"
mv "$LAYOUT" "$OUT"
echo "make-image: built $OUT in $(( $(date +%s) - start ))s ($(du -sh "$OUT" | cut -f1))" >&2
echo "$OUT"
