#!/bin/bash
# For a machine with a real NVIDIA GPU and its driver loaded (run by hand,
# not by tests/run): checks a driver bundle (tests/gpu/make-bundle.sh; the
# layout build.sh --gpu-driver takes) against the host's driver, and shows
# what hypeman-init would do with it. One report:
#   - the bundle's driver version against the host's (/proc/driver/nvidia/
#     version), and its libraries, tools and firmware against the host's
#     files of the same names;
#   - the driver's names in /proc/devices and the nodes init would make
#     (majors, minors, modes and owners from the driver's params, as
#     hypeman/gpu_nodes.c makes them), beside what /dev has;
#   - when the versions match: the bundle's nvidia-smi -L, and cuInit,
#     cuDeviceGetCount and a PTX JIT (a kernel compiled from PTX, launched)
#     against the bundle's libcuda, through python3's ctypes.
#
#   tests/gpu/device-check.sh BUNDLE
#
# Needs nothing but the bundle (and python3 for the CUDA check). Without an
# NVIDIA GPU it says so in one line and exits 0; it exits 1 when a check
# fails.
set -uo pipefail
# --help: the comment above on stdout, status 0
case ${1:-} in -h|--help) sed -n '2,/^[^#]/s/^# \{0,1\}//p' "$0"; exit 0 ;; esac
b=${1:?usage: device-check.sh BUNDLE}
[ -f "$b/version" ] || { echo "device-check: $b is not a bundle (no version file)"; exit 2; }
ver=$(head -n 1 "$b/version")
fail=0
bad() { echo "  MISMATCH: $*"; fail=1; }

gpus=
for d in /sys/bus/pci/devices/*; do
	[ "$(cat "$d/vendor" 2>/dev/null)" = 0x10de ] || continue
	case $(cat "$d/class" 2>/dev/null) in 0x03*) gpus="$gpus ${d##*/}" ;; esac
done
if [ -z "$gpus" ]; then
	echo "device-check: no NVIDIA GPU on this machine (no PCI device of vendor 0x10de, class 0x03xx): nothing to check"
	exit 0
fi
echo "== GPUs on the PCI bus:$gpus"
host=$(sed -n 's/.*Kernel Module[^0-9]*\([0-9][0-9.]*\).*/\1/p' /proc/driver/nvidia/version 2>/dev/null | head -n 1)
echo "== driver: bundle $ver, host ${host:-not loaded}"
[ "$host" = "$ver" ] || bad "the bundle's driver is $ver, the host runs ${host:-none}: the bundle's libraries will not talk to this kernel module"

echo "== libraries and tools (bundle / host)"
for f in "$b"/lib/*.so.* "$b"/bin/*; do
	[ -f "$f" ] && [ ! -L "$f" ] || continue
	n=${f##*/}
	h=$(ls /usr/lib/x86_64-linux-gnu/"$n" /usr/lib/x86_64-linux-gnu/nvidia/current/"$n" /usr/lib64/"$n" \
		/usr/lib/aarch64-linux-gnu/"$n" /usr/bin/"$n" /usr/sbin/"$n" 2>/dev/null | head -n 1)
	printf '  %-44s %s\n' "$n" "${h:-(host has none)}"
done
echo "== firmware"
for f in "$b"/firmware/nvidia/*/*; do
	h=/lib/firmware/nvidia/${host:-none}/${f##*/}
	if [ -f "$h" ] && cmp -s "$f" "$h"; then s="same as $h"; elif [ -f "$h" ]; then s="differs from $h"; else s="host has no $h"; fi
	printf '  %-44s %s\n' "${f#"$b"/firmware/}" "$s"
done

echo "== /proc/devices"
grep -E ' (nvidia|nvidiactl|nvidia-frontend|nvidia-uvm|nvidia-caps|nvidia-modeset)$' /proc/devices | sed 's/^/  /'
major() { awk -v n="$1" '/^Character devices:/ {c=1; next} /^Block devices:/ {c=0} c && $2 == n {print $1; exit}' /proc/devices; }
nv=$(major nvidia-frontend); [ -n "$nv" ] || nv=$(major nvidiactl); [ -n "$nv" ] || nv=$(major nvidia); [ -n "$nv" ] || nv=195
param() { sed -n "s/^$1: *\([0-9]*\)\$/\1/p" /proc/driver/nvidia/params 2>/dev/null | head -n 1; }
uid=$(param DeviceFileUID); gid=$(param DeviceFileGID); mode=$(param DeviceFileMode)
mode=$(printf '%04o' "${mode:-438}")
echo "== nodes init would make (mode $mode, owner ${uid:-0}:${gid:-0}) / what /dev has"
node() {
	local have
	have=$(stat -c '%t:%T %a %u:%g' "$1" 2>/dev/null) || have="missing"
	printf '  %-36s c %d:%d %s %s   /dev: %s\n' "$1" "$2" "$3" "$4" "$5" "$have"
}
node /dev/nvidiactl "$nv" 255 "$mode" "${uid:-0}:${gid:-0}"
node /dev/nvidia-modeset "$nv" 254 "$mode" "${uid:-0}:${gid:-0}"
for i in /proc/driver/nvidia/gpus/*/information; do
	m=$(sed -n 's/^Device Minor:[ \t]*\([0-9]*\).*/\1/p' "$i")
	[ -z "$m" ] || node "/dev/nvidia$m" "$nv" "$m" "$mode" "${uid:-0}:${gid:-0}"
done
uvm=$(major nvidia-uvm)
[ -z "$uvm" ] || { node /dev/nvidia-uvm "$uvm" 0 "$mode" "${uid:-0}:${gid:-0}"; node /dev/nvidia-uvm-tools "$uvm" 1 "$mode" "${uid:-0}:${gid:-0}"; }
caps=$(major nvidia-caps)
if [ -n "$caps" ] && [ -d /proc/driver/nvidia/capabilities ]; then
	find /proc/driver/nvidia/capabilities -type f | while read -r c; do
		m=$(sed -n 's/^DeviceFileMinor: *//p' "$c"); cm=$(sed -n 's/^DeviceFileMode: *//p' "$c")
		[ -z "$m" ] || node "/dev/nvidia-caps/nvidia-cap$m" "$caps" "$m" "$(printf '%04o' "${cm:-292}")" 0:0
	done
fi

if [ "$host" != "$ver" ]; then
	echo "== nvidia-smi and CUDA: skipped (the versions differ)"
	echo "device-check: FAILED"
	exit 1
fi
echo "== nvidia-smi -L (the bundle's)"
LD_LIBRARY_PATH=$b/lib "$b/bin/nvidia-smi" -L 2>&1 | sed 's/^/  /' || bad "nvidia-smi -L failed"
echo "== CUDA through the bundle's libcuda"
if ! command -v python3 >/dev/null; then
	echo "  skipped: no python3"
else
	LD_LIBRARY_PATH=$b/lib python3 - "$b/lib/libcuda.so.1" <<'EOF' || fail=1
import ctypes, sys
cuda = ctypes.CDLL(sys.argv[1])
def check(what, rc):
    print("  %-28s %s" % (what, "ok" if rc == 0 else "error %d" % rc))
    if rc:
        sys.exit(1)
check("cuInit", cuda.cuInit(0))
n = ctypes.c_int()
check("cuDeviceGetCount", cuda.cuDeviceGetCount(ctypes.byref(n)))
print("  %-28s %d" % ("devices", n.value))
dev, ctx, mod, fn = ctypes.c_int(), ctypes.c_void_p(), ctypes.c_void_p(), ctypes.c_void_p()
check("cuDeviceGet 0", cuda.cuDeviceGet(ctypes.byref(dev), 0))
check("cuCtxCreate", cuda.cuCtxCreate_v2(ctypes.byref(ctx), 0, dev))
ptx = b""".version 6.0
.target sm_50
.address_size 64
.visible .entry hm_noop() { ret; }
"""
check("cuModuleLoadData (PTX JIT)", cuda.cuModuleLoadData(ctypes.byref(mod), ctypes.c_char_p(ptx)))
check("cuModuleGetFunction", cuda.cuModuleGetFunction(ctypes.byref(fn), mod, b"hm_noop"))
check("cuLaunchKernel", cuda.cuLaunchKernel(fn, 1, 1, 1, 1, 1, 1, 0, None, None, None))
check("cuCtxSynchronize", cuda.cuCtxSynchronize())
EOF
fi
if [ "$fail" = 0 ]; then echo "device-check: OK"; else echo "device-check: FAILED"; fi
exit "$fail"
