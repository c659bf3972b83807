#!/bin/sh
# make bench: berth, runc and crun side by side in one interleaved run of
# the shared peer benchmark, on the same busybox bundle running /bin/true.
# usage: bench.sh BERTH ROOTFS PEER_BENCH
set -eu
berth=${1:?berth binary}
rootfs=${2:?busybox rootfs}
peer=${3:?peer-bench.sh}
[ -x "$peer" ] || [ -f "$peer" ] || { echo "bench: $peer not found (../shared/tools)" >&2; exit 1; }
work=$(mktemp -d /var/tmp/berth-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/bundle"
cp -a "$rootfs" "$work/bundle/rootfs"
"$berth" spec --bundle "$work/bundle"
# Every runtime sees the same plain cgroup v1 view inside the script's
# private mount namespace (CGVIEW=v1): crun 1.8.1 refuses this host's
# hybrid layout, and this way it runs unmodified and undistorted.
export BUNDLE="$work/bundle"
export CGVIEW=${CGVIEW:-v1}
export SECTIONS=${SECTIONS:-"run life rss scale churn"}
export N_RUN=${N_RUN:-200} N_CYCLE=${N_CYCLE:-60} SCALE=${SCALE:-100} N_CHURN=${N_CHURN:-1000}
export OUT=${OUT:-$PWD/target/bench-$(date +%Y%m%d-%H%M%S)}
bash "$peer" runc crun "berth=$berth"
echo "results: $OUT/summary.txt"
