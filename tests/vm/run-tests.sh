#!/bin/bash
# run-tests.sh [--systemd] [TEST...] : run berth's integration tests (the
# named files in tests/) and the conformance suite inside a pure cgroup v2
# VM (tests/vm/vm.sh), or with --systemd under systemd as PID 1, where the
# scripts in tests/vm/*-check.sh run too. BERTH_EXPECT_CRIU=1 goes on to
# the tests (CRIU must work there). BERTH_VM_APPEND adds kernel arguments
# (systemd.unified_cgroup_hierarchy=0 boots systemd's hybrid layout). The test binaries are the ones cargo built
# for this host (static, so they need nothing from the guest); berth goes
# to the same absolute path it has here, where the tests look for it.
set -euo pipefail
cd "$(dirname "$0")/../.."
mode=()
if [ "${1:-}" = --systemd ]; then mode=(--systemd); shift; fi
CARGO=${CARGO:-cargo}
ROOTFS=${ROOTFS:-target/test-rootfs}

stage=$(mktemp -d /tmp/berth-vm-stage.XXXXXX)
trap 'rm -rf "$stage"' EXIT
# Containers with a user namespace reach the rootfs as unmapped users.
chmod 755 "$stage"

# One cargo call builds every named test; its JSON says where each went.
args=()
for t; do args+=(--test "$t"); done
$CARGO build --workspace
: > "$stage/build.json"
[ $# -eq 0 ] || $CARGO test --no-run --message-format=json "${args[@]}" > "$stage/build.json"
berth=$(pwd)/target/x86_64-unknown-linux-gnu/debug/berth
[ -x "$berth" ] || { echo "no $berth" >&2; exit 1; }

mkdir -p "$stage/tests"
for t; do
    exe=$(grep -o "\"executable\":\"[^\"]*/deps/$t-[0-9a-f]*\"" "$stage/build.json" | tail -1 | cut -d'"' -f4)
    [ -n "$exe" ] || { echo "cargo built no test named $t" >&2; exit 1; }
    strip --strip-debug -o "$stage/tests/$t" "$exe"
done
strip --strip-debug -o "$stage/berth" "$berth"
# conformance/ too: what it could not check on this host, it checks there.
for b in oci-conformance oci-check; do
    strip --strip-debug -o "$stage/$b" "$(dirname "$berth")/$b"
done
gcc -static -O2 -o "$stage/subreaper" tests/subreaper.c
cp -a "$ROOTFS" "$stage/rootfs"
cp tests/vm/*-check.sh "$stage/" 2>/dev/null || true
# What tests read from the source tree goes to the same absolute path.
gcc -static -O2 -Wall -pthread -o target/sysprobe tests/sysprobe.c
mkdir -p "$stage/tree"
tar -c fuzz/known-hangs tests/sysprobe.c target/sysprobe | tar -C "$stage/tree" -x

# The guest side: put berth where the tests expect it, run every test
# binary (two at a time would only fight over the emulated CPUs).
cat > "$stage/guest.sh" <<EOF
set -u
mkdir -p "$(dirname "$berth")"
cp -a tree/. "$(pwd)/"
cp berth "$berth"
export BERTH_TEST_ROOTFS=\$PWD/rootfs
# Set where CRIU must work (the systemd image has Debian's criu): the
# checkpoint test then fails rather than asserting a refusal.
export BERTH_EXPECT_CRIU=${BERTH_EXPECT_CRIU:-}
echo "guest: \$(uname -r), cgroup: \$(grep -o "^cgroup[^ ]* /sys/fs/cgroup[^ ]*" /proc/mounts | tr "\n" " "), init: \$(cat /proc/1/comm)"
failed=""
for t in tests/*; do
    [ -e "\$t" ] || continue
    echo "=== \$t"
    timeout 900 ./subreaper "\$t" --test-threads=1 || failed="\$failed \${t#tests/}"
done
echo "=== conformance"
if ! timeout 600 ./subreaper ./oci-conformance --runtime "$berth" --rootfs "\$PWD/rootfs" --checker ./oci-check > conformance.out 2>&1; then
    failed="\$failed conformance"
    ps -o pid,ppid,stat,args
fi
cat conformance.out
for c in ./*-check.sh; do
    [ -e "\$c" ] || continue
    [ "${mode[*]:-}" = --systemd ] || continue
    echo "=== \$c"
    ./subreaper sh "\$c" || failed="\$failed \${c#./}"
done
if [ -n "\$failed" ]; then echo "guest: FAILED:\$failed"; exit 1; fi
echo "guest: all passed"
EOF
bash tests/vm/vm.sh run "${mode[@]}" "$stage" sh guest.sh
