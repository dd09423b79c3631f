#!/bin/bash
# The demo: from a fresh Debian bookworm machine (as root), build everything
# and boot the bundled systemd test image with `hypeman run`, mode
# auto-detected from the image's command: systemd comes up as PID 1 on this
# terminal.
#
#   ./demo.sh [HYPEMAN-RUN-OPTION...]     e.g. --timeout 120, -i, --init-mode=exec
#
# Arguments go to `hypeman run` (out/hypeman run --help lists them). Ctrl-C
# stops the VM cleanly (Ctrl-Alt-Del to the guest); --timeout SECONDS stops
# it by itself. The demo boots its own initrd (out/demo/initrd-<release>,
# with the test guest agent) and also builds out/initrd-<release> without
# it, the one `hypeman run` picks by itself for your images.
set -euo pipefail
cd "$(dirname "$0")"
case ${1:-} in -h|--help) sed -n '2,/^[^#]/s/^# \{0,1\}//p' "$0"; exit 0 ;; esac
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
# out/initrd-<release>: the one hypeman run pairs with that kernel by
# itself, so without the test agent (a user's own images get no agent that
# is not theirs); the demo's own, with the agent, it passes with --initrd.
release=$(basename "$modules")
./build.sh --kernel-modules "$modules"
./build.sh --kernel-modules "$modules" --agent "$out/test-agent" --output "$out/demo/initrd-$release"
step "building hypeman run (host/)" "$logs/host-make.log" make -s -C host OUT="$out"
tests/testdata/systemd/make-image.sh

image=${HYPEMAN_CACHE:-/var/cache/hypeman-init}/images/systemd-oci
run=("$out/hypeman" run --initrd "$out/demo/initrd-$release" "$@" "$image")
hint="Ctrl-C stops it cleanly (systemd shuts down, the VM ends), --timeout SECONDS by itself;
demo: ./demo.sh -i makes this terminal the VM's console (Ctrl-A x quits QEMU)"
cat >&2 <<EOF
demo: booting $image
demo:   (Debian bookworm with systemd, made by tests/testdata/systemd/make-image.sh)
demo:   with out/demo/initrd-$release: its test guest agent stays out of
demo:   out/initrd-$release, the initrd hypeman run picks for your own images.
demo: Under TCG (2 cores) systemd is up 15 to 20 s from here, longer on a busy machine;
demo: the demo says so when it is. $hint
EOF
# With -i (also in a cluster, -qi) the terminal is the VM's: hypeman run
# has it to itself.
for a in "$@"; do
	case $a in -i|--interactive|-[!-]*i*) exec "${run[@]}" ;; esac
done
# Otherwise say it again once systemd is up, after its boot messages have
# scrolled past hypeman run's own hint. The filter ignores Ctrl-C: that is
# hypeman run's stop request, and the filter must read on to its end.
t0=$SECONDS rc=0
"${run[@]}" | (
	trap '' INT
	said=
	while IFS= read -r line || [ -n "$line" ]; do
		printf '%s\n' "$line"
		[ -z "$said" ] || continue
		case $line in *"Reached target"*"Multi-User System"*)
			said=1
			echo "demo: systemd is up (multi-user.target, the guest agent started) after $((SECONDS - t0)) s. $hint" >&2 ;;
		esac
	done
) || rc=$?
echo "demo: $SECONDS s in all, hypeman run $((SECONDS - t0)) s of them; its exit status $rc" >&2
exit "$rc"
