#!/bin/bash
# The demo: from a fresh Debian bookworm machine (as root), build everything
# and boot the bundled systemd test image with `hypeman run`, mode
# auto-detected from the image's command: systemd comes up as PID 1 on this
# terminal. Ctrl-C stops the VM cleanly; arguments go to `hypeman run`
# (e.g. ./demo.sh --timeout 120, or --init-mode=exec).
set -euo pipefail
cd "$(dirname "$0")"
# A line when each step starts and one with its duration; build output in
# out/logs/ (the last lines shown when a step fails).
. ./step.sh
STEP_PREFIX="demo: "
out=${HYPEMAN_OUT:-$PWD/out}
logs=$out/logs

pkgs=
for pair in qemu-system-x86_64:qemu-system-x86 mke2fs:e2fsprogs mkfs.erofs:erofs-utils \
	debootstrap:debootstrap umoci:umoci gcc:gcc make:make tar:tar python3:python3 musl-gcc:musl-tools; do
	command -v "${pair%%:*}" >/dev/null 2>&1 || pkgs="$pkgs ${pair#*:}"
done
# hypeman run (host/) links libarchive and OpenSSL's libcrypto.
[ -e /usr/include/archive.h ] || pkgs="$pkgs libarchive-dev"
[ -e /usr/include/openssl/evp.h ] || pkgs="$pkgs libssl-dev"
if [ -n "$pkgs" ]; then
	step "installing:$pkgs" "$logs/apt-install.log" sh -c "apt-get update &&
		DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $pkgs"
fi

# Debian's kernel, cached (kernel.py says when it downloads)
modules=$(python3 tests/lib/kernel.py --field modules)
step "building the test guest agent" "$logs/agent-build.log" bash tests/agent/build.sh "$out/test-agent"
# Writes out/initrd-<release>: hypeman run pairs it with that kernel by itself.
./build.sh --kernel-modules "$modules" --agent "$out/test-agent"
step "building hypeman run (host/)" "$logs/host-make.log" make -s -C host OUT="$out"
tests/testdata/systemd/make-image.sh

image=${HYPEMAN_CACHE:-/var/cache/hypeman-init}/images/systemd-oci
exec "$out/hypeman" run "$@" "$image"
