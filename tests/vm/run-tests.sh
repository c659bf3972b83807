#!/bin/bash
# run-tests.sh [--systemd] [TEST...] : run berth's integration tests (the
# named files in tests/) and the conformance suite inside a pure cgroup v2
# VM (tests/vm/vm.sh), or with --systemd under systemd as PID 1, where the
# scripts in tests/vm/*-check.sh run too.
#   BERTH_VM_APPEND     more kernel arguments (systemd.unified_cgroup_hierarchy=0
#                       boots systemd's hybrid layout)
#   BERTH_EXPECT_*      reach the tests in the guest: what this boot must
#                       have (a test that finds it missing fails)
#   BERTH_VM_ONLY=NAME  only the tests and conformance configs whose names
#                       hold NAME, and no check scripts: for a boot that
#                       differs from another in one feature
# The test binaries are the ones cargo built for this host (static, so
# they need nothing from the guest); berth goes to the same absolute path
# it has here, where the tests look for it. On pure v2 boots the guest
# gets BERTH_ROOTLESS_DELEGATION=1: the rootless tests then must get
# delegated limits. RUST_TEST_NOCAPTURE=1 here shows the tests' own output
# (the limits they saw) from the guest.
set -euo pipefail
cd "$(dirname "$0")/../.."
mode=()
if [ "${1:-}" = --systemd ]; then mode=(--systemd); shift; fi
CARGO=${CARGO:-cargo}
only=${BERTH_VM_ONLY:-}
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

# Pure v2 VMs (not systemd's hybrid boot) must give the rootless tests a
# delegated cgroup with memory, pids and cpu: without it they fail.
delegation=1
case "${BERTH_VM_APPEND:-}" in *unified_cgroup_hierarchy=0*) delegation=0 ;; esac

# The guest side: put berth where the tests expect it, run every test
# binary (two at a time would only fight over the emulated CPUs).
cat > "$stage/guest.sh" <<EOF
set -u
mkdir -p "$(dirname "$berth")"
cp -a tree/. "$(pwd)/"
cp berth "$berth"
export BERTH_TEST_ROOTFS=\$PWD/rootfs
$(env | grep '^BERTH_EXPECT_[A-Z_]*=' | sed 's/^/export /')
export BERTH_ROOTLESS_DELEGATION=$delegation
${RUST_TEST_NOCAPTURE:+export RUST_TEST_NOCAPTURE=1}
echo "guest: \$(uname -r), cgroup: \$(grep -o "^cgroup[^ ]* /sys/fs/cgroup[^ ]*" /proc/mounts | tr "\n" " "), init: \$(cat /proc/1/comm)"
failed=""
for t in tests/*; do
    [ -e "\$t" ] || continue
    echo "=== \$t"
    s=\$(date +%s)
    timeout 900 ./subreaper "\$t" --test-threads=1 $only || failed="\$failed \${t#tests/}"
    echo "=== \$t took \$((\$(date +%s) - s)) s"
done
echo "=== conformance"
s=\$(date +%s)
if ! timeout 600 ./subreaper ./oci-conformance --runtime "$berth" --rootfs "\$PWD/rootfs" --checker ./oci-check ${only:+--only $only} > conformance.out 2>&1; then
    failed="\$failed conformance"
    ps -o pid,ppid,stat,args
fi
cat conformance.out
echo "=== conformance took \$((\$(date +%s) - s)) s"
for c in ./*-check.sh; do
    [ -e "\$c" ] || continue
    [ "${mode[*]:-}" = --systemd ] && [ -z "$only" ] || continue
    echo "=== \$c"
    ./subreaper sh "\$c" || failed="\$failed \${c#./}"
done
if [ -n "\$failed" ]; then echo "guest: FAILED:\$failed"; exit 1; fi
echo "guest: all passed"
EOF
bash tests/vm/vm.sh run "${mode[@]}" "$stage" sh guest.sh
