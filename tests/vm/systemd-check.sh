#!/bin/sh
# The systemd cgroup driver against a real systemd, inside a VM whose PID 1
# is systemd (cgroup v2, or hybrid v1 when booted with
# systemd.unified_cgroup_hierarchy=0).
#
# Run as root with the cwd holding `berth` (a static build) and `rootfs/`
# (a busybox rootfs, tests/mkrootfs.sh). Prints one line per check and
# exits non-zero at the first failure, saying what differed.
#
#   scope: berth --systemd-cgroup run -d with cgroupsPath
#     system.slice:berth:ID and memory/pids/cpu limits gives an active
#     berth-ID.scope whose properties (systemctl show) and cgroup files
#     hold the limits; the container is in the scope; exec, ps, pause,
#     resume, events and update work; a second container asking for the
#     same unit fails and leaves the first alone; the device policy
#     denies what it does not allow; delete removes the scope. The
#     scope's bundle has org.systemd.property.* annotations (CollectMode,
#     TimeoutStopSec, After) and a linux.devices entry allowed read-only
#     (Docker's --device X:r): the unit shows them, DeviceAllow= gives the
#     device exactly "r", and an update with device rules replaces
#     DeviceAllow= with exactly what it gives.
#   run: a foreground run is in its scope and leaves no unit behind.
#   slice: a cgroupsPath name ending in .slice makes a slice for it.
#   bus: without systemd's private socket, berth goes through dbus-daemon.
#
# By hand with ../shared/tools/cgv2-vm (variant B boots systemd):
#   mkdir D && strip -o D/berth target/x86_64-unknown-linux-gnu/debug/berth
#   sh tests/mkrootfs.sh D/rootfs && cp tests/vm/systemd-check.sh D/
#   cgv2-vm.sh run -b D sh systemd-check.sh
#   CGV2_APPEND=systemd.unified_cgroup_hierarchy=0 cgv2-vm.sh run -b D ...
#     (the same on a hybrid v1 host)
set -u

BERTH=$PWD/berth
ROOTFS=$PWD/rootfs
WORK=$(mktemp -d /tmp/berth-sd.XXXXXX)
STATE=$WORK/state
ID=sdcheck$$
FAILED=0

say() { echo "systemd-check: $*"; }
fail() {
    say "FAIL: $*"
    FAILED=1
    cleanup
    exit 1
}
ok() { say "ok: $*"; }
b() { "$BERTH" --root "$STATE" "$@"; }
sdb() { "$BERTH" --root "$STATE" --systemd-cgroup "$@"; }

cleanup() {
    for c in "$ID" "${ID}b" "${ID}r" "${ID}s" "${ID}d"; do
        b delete -f "$c" >/dev/null 2>&1
    done
    if [ "$FAILED" = 1 ]; then
        for f in "$WORK"/*.out "$WORK"/*.err; do
            [ -s "$f" ] && { say "--- $f"; cat "$f"; }
        done
    fi
    rm -rf "$WORK"
}

# show UNIT PROP: the property's value as systemctl shows it.
show() { systemctl show -p "$2" --value "$1" 2>/dev/null; }
expect_prop() { # UNIT PROP WANT
    got=$(show "$1" "$2")
    [ "$got" = "$3" ] || fail "$1: $2=$got, want $3"
}
expect_file() { # FILE WANT
    got=$(cat "$1" 2>&1)
    [ "$got" = "$2" ] || fail "$1 is '$got', want '$2'"
}
# The transient unit is gone (systemctl show makes up an inactive,
# non-transient unit for any slice name, so LoadState alone cannot tell).
unit_gone() { # UNIT
    i=0
    while [ "$(show "$1" Transient)" = yes ] && [ $i -lt 50 ]; do
        sleep 0.1
        i=$((i + 1))
    done
    [ "$(show "$1" Transient)" != yes ] || fail "$1 is still there ($(show "$1" ActiveState))"
    [ "$(show "$1" ActiveState)" != active ] || fail "$1 is still active"
}

# bundle DIR CGROUPS_PATH ARGS_JSON: a busybox bundle with limits.
bundle() {
    mkdir -p "$1"
    cat > "$1/config.json" <<EOF
{
  "ociVersion": "1.2.0",
  "process": {
    "terminal": false,
    "user": {"uid": 0, "gid": 0},
    "args": $3,
    "env": ["PATH=/bin:/sbin"],
    "cwd": "/",
    "capabilities": {
      "bounding": ["CAP_KILL", "CAP_MKNOD"],
      "effective": ["CAP_KILL", "CAP_MKNOD"],
      "permitted": ["CAP_KILL", "CAP_MKNOD"]
    },
    "noNewPrivileges": true
  },
  "root": {"path": "$ROOTFS", "readonly": true},
  "hostname": "sdcheck",
  "mounts": [
    {"destination": "/proc", "type": "proc", "source": "proc"},
    {"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
    {"destination": "/dev/pts", "type": "devpts", "source": "devpts", "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"]},
    {"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": ["nosuid", "noexec", "nodev", "ro"]},
    {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup", "options": ["nosuid", "noexec", "nodev", "relatime", "ro"]},
    {"destination": "/tmp", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "nodev", "mode=1777"]}
  ],
  "linux": {
    "cgroupsPath": "$2",
    "resources": {
      "memory": {"limit": 67108864},
      "pids": {"limit": 42},
      "cpu": {"shares": 1024, "quota": 50000, "period": 100000},
      "devices": [{"allow": false, "access": "rwm"}]
    },
    "namespaces": [{"type": "pid"}, {"type": "network"}, {"type": "ipc"}, {"type": "uts"}, {"type": "mount"}]
  }
}
EOF
}

trap 'cleanup' INT TERM
[ -x "$BERTH" ] || fail "no executable ./berth in $PWD"
[ -x "$ROOTFS/bin/busybox" ] || fail "no busybox rootfs in $ROOTFS"
[ -d /run/systemd/system ] || fail "systemd is not PID 1 here"
if [ "$(stat -fc %T /sys/fs/cgroup)" = cgroup2fs ]; then
    V2=1
    CG=/sys/fs/cgroup
    MEMFILE=memory.max
    MEMPROP=MemoryMax
    say "cgroup v2 (unified), systemd $(systemctl --version | head -1)"
else
    V2=0
    CG=/sys/fs/cgroup/memory
    MEMFILE=memory.limit_in_bytes
    MEMPROP=MemoryLimit
    say "cgroup v1 (hybrid), systemd $(systemctl --version | head -1)"
fi

# ---- scope: a detached container with limits
UNIT=berth-$ID.scope
bundle "$WORK/b1" "system.slice:berth:$ID" '["sh", "-c", "cat /proc/self/cgroup; sleep 1000"]'
# Unit properties from annotations (GVariant text, as runc takes them),
# and a device the container is given (linux.devices), read-only.
sed -i -e 's|^  "ociVersion": "1.2.0",|&\n  "annotations": {"org.systemd.property.CollectMode": "'"'inactive-or-failed'"'", "org.systemd.property.TimeoutStopSec": "uint64 7", "org.systemd.property.After": "@as ['"'systemd-journald.service'"']"},|' \
    -e 's|^    "cgroupsPath": ".*",|&\n    "devices": [{"path": "/dev/fuse", "type": "c", "major": 10, "minor": 229}],|' \
    -e 's|^      "devices": \[{"allow": false, "access": "rwm"}\]|      "devices": [{"allow": false, "access": "rwm"}, {"allow": true, "type": "c", "major": 10, "minor": 229, "access": "r"}]|' "$WORK/b1/config.json"
sdb run -d -b "$WORK/b1" "$ID" > "$WORK/run1.out" 2> "$WORK/run1.err" < /dev/null ||
    fail "berth --systemd-cgroup run -d: $(cat "$WORK/run1.err")"
ok "run -d with cgroupsPath system.slice:berth:$ID"
expect_prop "$UNIT" ActiveState active
expect_prop "$UNIT" Slice system.slice
expect_prop "$UNIT" Delegate yes
expect_prop "$UNIT" "$MEMPROP" 67108864
expect_prop "$UNIT" TasksMax 42
expect_prop "$UNIT" CPUQuotaPerSecUSec 500ms
expect_prop "$UNIT" DevicePolicy strict
ok "systemctl show $UNIT: $MEMPROP=67108864 TasksMax=42 CPUQuotaPerSecUSec=500ms DevicePolicy=strict"
expect_prop "$UNIT" CollectMode inactive-or-failed
expect_prop "$UNIT" TimeoutStopUSec 7s
show "$UNIT" After | grep -q systemd-journald.service || fail "After=$(show "$UNIT" After) lacks systemd-journald.service"
ok "annotations: CollectMode=inactive-or-failed TimeoutStopUSec=7s After=systemd-journald.service"
show "$UNIT" DeviceAllow | grep -q "/dev/char/10:229 r\$" || fail "DeviceAllow lacks 10:229 r: $(show "$UNIT" DeviceAllow)"
show "$UNIT" DeviceAllow | grep -q "/dev/char/10:229 rw" && fail "DeviceAllow widens 10:229: $(show "$UNIT" DeviceAllow)"
ok "DeviceAllow has /dev/char/10:229 r, as the rules say, and no more"
if [ $V2 = 1 ]; then
    expect_prop "$UNIT" CPUWeight 39
    D=$CG/system.slice/$UNIT
    expect_file "$D/memory.max" 67108864
    expect_file "$D/pids.max" 42
    expect_file "$D/cpu.max" "50000 100000"
    expect_file "$D/cpu.weight" 39
else
    expect_prop "$UNIT" CPUShares 1024
    expect_file "$CG/system.slice/$UNIT/memory.limit_in_bytes" 67108864
    expect_file "/sys/fs/cgroup/pids/system.slice/$UNIT/pids.max" 42
    expect_file "/sys/fs/cgroup/cpu,cpuacct/system.slice/$UNIT/cpu.cfs_quota_us" 50000
    # Controllers systemd leaves alone: berth made and joined them.
    [ -d "/sys/fs/cgroup/freezer/system.slice/$UNIT" ] || fail "no freezer cgroup for $UNIT"
fi
ok "cgroup files of $UNIT hold the limits"

PID=$(b state "$ID" | sed -n 's/.*"pid": *\([0-9]*\).*/\1/p')
[ -n "$PID" ] || fail "no pid in berth state"
# In the scope on every hierarchy (on v1 berth joins what systemd leaves).
elsewhere=$(grep -v "/system.slice/$UNIT\$" "/proc/$PID/cgroup")
[ -z "$elsewhere" ] || fail "init $PID is not in $UNIT on: $elsewhere"
i=0
while ! grep -q "$UNIT" "$WORK/run1.out" && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
grep -q "/system.slice/$UNIT\$" "$WORK/run1.out" || fail "the container's /proc/self/cgroup is not in $UNIT"
[ "$(systemctl show -p ControlGroup --value "$UNIT")" = "/system.slice/$UNIT" ] || fail "ControlGroup of $UNIT"
ok "the container's /proc/self/cgroup is in $UNIT"

b exec "$ID" sh -c "cat /proc/self/cgroup; cat /sys/fs/cgroup/$MEMFILE /sys/fs/cgroup/memory/$MEMFILE 2>/dev/null; true" \
    > "$WORK/exec.out" 2> "$WORK/exec.err" < /dev/null || fail "exec: $(cat "$WORK/exec.err")"
grep -q "/system.slice/$UNIT\$" "$WORK/exec.out" || fail "exec'd process is not in $UNIT"
grep -qx 67108864 "$WORK/exec.out" || fail "the container's /sys/fs/cgroup does not show its limit"
ok "exec joins $UNIT; the container's /sys/fs/cgroup is the scope's"

b ps --format json "$ID" | grep -q "$PID" || fail "ps does not list $PID"
b pause "$ID" || fail "pause"
b state "$ID" | grep -q '"status": *"paused"' || fail "not paused: $(b state "$ID")"
b resume "$ID" || fail "resume"
b state "$ID" | grep -q '"status": *"running"' || fail "not running after resume"
b events --stats "$ID" | grep -q '"memory"' || fail "events --stats has no memory"
ok "ps, pause, resume, events"

b update --memory 128m --pids-limit 50 "$ID" 2> "$WORK/update.err" || fail "update: $(cat "$WORK/update.err")"
expect_prop "$UNIT" "$MEMPROP" 134217728
expect_prop "$UNIT" TasksMax 50
expect_file "$CG/system.slice/$UNIT/$MEMFILE" 134217728
ok "update sets the unit's properties and files"

# New device rules: the unit's DeviceAllow is exactly them (and the defaults).
echo '{"devices": [{"allow": false, "access": "rwm"}, {"allow": true, "type": "c", "major": 1, "minor": 11, "access": "rm"}]}' > "$WORK/rules.json"
b update --resources "$WORK/rules.json" "$ID" 2> "$WORK/update.err" || fail "update devices: $(cat "$WORK/update.err")"
allow=$(show "$UNIT" DeviceAllow)
echo "$allow" | grep -q "/dev/char/1:11 rm" || fail "DeviceAllow after update lacks 1:11 rm: $allow"
echo "$allow" | grep -q "/dev/char/10:229" && fail "DeviceAllow after update kept the old 10:229 rule: $allow"
expect_prop "$UNIT" DevicePolicy strict
b exec "$ID" sh -c 'mknod /dev/k c 1 11 && echo made; (echo x > /dev/k) 2>&1' \
    > "$WORK/devupd.out" 2> "$WORK/devupd.err" < /dev/null
grep -q "^made" "$WORK/devupd.out" && grep -q "Operation not permitted" "$WORK/devupd.out" ||
    fail "after the device update, c 1:11: $(cat "$WORK/devupd.out" "$WORK/devupd.err")"
ok "update with device rules: DeviceAllow has 1:11 rm and no 10:229; inside, c 1:11 can be made, not written"

# The same unit again: refused, and the first container untouched.
bundle "$WORK/b2" "system.slice:berth:$ID" '["true"]'
if sdb create -b "$WORK/b2" "${ID}b" > /dev/null 2> "$WORK/dup.err" < /dev/null; then
    fail "a second container got the running $UNIT"
fi
grep -q UnitExists "$WORK/dup.err" || fail "no UnitExists in: $(cat "$WORK/dup.err")"
[ ! -e "$STATE/${ID}b" ] || fail "the failed create left its state dir"
expect_prop "$UNIT" ActiveState active
b state "$ID" | grep -q '"status": *"running"' || fail "the first container suffered"
ok "a second container for $UNIT fails ($(cut -c1-80 "$WORK/dup.err")...) and leaves the first alone"

# The device policy: c 1:3 (null) is allowed, c 1:1 (mem) is not.
b exec "$ID" sh -c 'echo x > /dev/null && mknod /dev/xmem c 1 1 && head -c 1 /dev/xmem' \
    > "$WORK/dev.out" 2> "$WORK/dev.err" < /dev/null && fail "/dev/mem (c 1:1) could be read"
grep -q "Operation not permitted" "$WORK/dev.err" || fail "reading c 1:1: $(cat "$WORK/dev.err")"
ok "the device policy denies c 1:1 and allows /dev/null"

b delete -f "$ID" 2> "$WORK/delete.err" || fail "delete: $(cat "$WORK/delete.err")"
unit_gone "$UNIT"
[ ! -e "$CG/system.slice/$UNIT" ] || fail "$CG/system.slice/$UNIT left behind"
[ $V2 = 1 ] || [ ! -e "/sys/fs/cgroup/freezer/system.slice/$UNIT" ] || fail "freezer cgroup left behind"
[ ! -e "$STATE/$ID" ] || fail "state dir left behind"
kill -0 "$PID" 2>/dev/null && fail "init $PID survived delete"
ok "delete removes $UNIT, its cgroups and the state"

# ---- run: in the foreground, the scope goes with the container
UNIT=berth-${ID}r.scope
bundle "$WORK/b3" ":berth:${ID}r" '["cat", "/proc/self/cgroup"]'
sdb run -b "$WORK/b3" "${ID}r" > "$WORK/run3.out" 2> "$WORK/run3.err" < /dev/null ||
    fail "foreground run: $(cat "$WORK/run3.err")"
grep -q "/system.slice/$UNIT\$" "$WORK/run3.out" || fail "foreground run not in $UNIT"
unit_gone "$UNIT"
[ ! -e "$STATE/${ID}r" ] || fail "foreground run left its state"
ok "a foreground run is in $UNIT, which is gone after it"

# ---- slice: a name ending in .slice is a slice unit
SLICE=berthcheck-${ID}s.slice
bundle "$WORK/b4" "system.slice::$SLICE" '["sleep", "1000"]'
sdb run -d -b "$WORK/b4" "${ID}s" > /dev/null 2> "$WORK/slice.err" < /dev/null ||
    fail "run in a slice: $(cat "$WORK/slice.err")"
expect_prop "$SLICE" ActiveState active
expect_prop "$SLICE" TasksMax 42
PID=$(b state "${ID}s" | sed -n 's/.*"pid": *\([0-9]*\).*/\1/p')
grep -q "/berthcheck.slice/$SLICE\$" "/proc/$PID/cgroup" || fail "init not in $SLICE: $(cat /proc/$PID/cgroup)"
b delete -f "${ID}s" 2> "$WORK/slice.err" || fail "delete in a slice: $(cat "$WORK/slice.err")"
unit_gone "$SLICE"
ok "a container in $SLICE; delete removes it"

# ---- bus: with the private socket out of reach, through dbus-daemon
if [ -S /run/dbus/system_bus_socket ] && command -v unshare > /dev/null; then
    UNIT=berth-${ID}d.scope
    bundle "$WORK/b5" "system.slice:berth:${ID}d" '["sleep", "1000"]'
    # A private mount namespace hides the socket from berth alone.
    nobus() {
        unshare -m sh -c 'mount --bind /dev/null /run/systemd/private && exec "$@"' sh "$@"
    }
    nobus "$BERTH" --root "$STATE" --systemd-cgroup --debug --log "$WORK/bus.log" \
        run -d -b "$WORK/b5" "${ID}d" > /dev/null 2> "$WORK/bus.err" < /dev/null ||
        fail "run through the system bus: $(cat "$WORK/bus.err")"
    grep -q "reached through /run/dbus/system_bus_socket" "$WORK/bus.log" ||
        fail "not through the system bus: $(grep -i 'd-bus\|systemd' "$WORK/bus.log" | head -5)"
    expect_prop "$UNIT" ActiveState active
    expect_prop "$UNIT" TasksMax 42
    nobus "$BERTH" --root "$STATE" delete -f "${ID}d" 2> "$WORK/bus.err" ||
        fail "delete through the system bus: $(cat "$WORK/bus.err")"
    unit_gone "$UNIT"
    ok "through the system bus (no private socket): $UNIT started and removed"
else
    say "skipped: no system bus here"
fi

left=$(systemctl list-units --all --no-legend "berth-$ID*" "berthcheck-$ID*" 2>/dev/null)
[ -z "$left" ] || fail "units left: $left"
cleanup
say "all checks passed"
