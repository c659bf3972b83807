#!/bin/bash
# Podman drives the runtime end to end, as users meet it. Everything lives
# under private --root/--runroot paths and is removed at the end.
# usage: podman.sh RUNTIME_BINARY ROOTFS     (RUNTIME_BINARY may be runc)
set -u
runtime=${1:?runtime binary}
rootfs=${2:?busybox rootfs}
name=$(basename "$runtime")
work=$(mktemp -d /var/tmp/berth-podman.XXXXXX)
pass=0 fail=0
cat >"$work/containers.conf" <<CONF
[containers]
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]
[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
runtime_supports_json = ["$name"]
[engine.runtimes]
$name = ["$runtime"]
CONF
export CONTAINERS_CONF=$work/containers.conf
P=(podman --root "$work/root" --runroot "$work/run" --runtime "$name" --cgroup-manager cgroupfs --events-backend file)

. "$(dirname "$0")/lib.sh"

cleanup() {
	"${P[@]}" rm -af >/dev/null 2>&1
	"${P[@]}" rmi -af >/dev/null 2>&1
	umount -R "$work/root/overlay" 2>/dev/null
	for m in $(awk -v w="$work" '$5 ~ "^"w {print $5}' /proc/self/mountinfo | sort -r); do umount -l "$m" 2>/dev/null; done
	rm -rf "$work"
}
trap cleanup EXIT

tar -C "$rootfs" -c . | "${P[@]}" import - localhost/berth-bb:latest >/dev/null 2>&1 || { echo "not ok - import image"; exit 1; }
R=("${P[@]}" run --rm --network none localhost/berth-bb:latest)

check "run prints output" "hello" "$("${R[@]}" echo hello 2>&1)"
"${R[@]}" sh -c 'exit 42'; check "non-zero exit code" 42 "$?"
out=$("${R[@]}" /nonexistent 2>&1); rc=$?
check "missing entrypoint maps to 127" 127 "$rc"
contains "missing entrypoint shows the runtime's message" "no such file or directory" "$out"
out=$("${R[@]}" /etc/passwd 2>&1); rc=$?
check "not executable maps to 126" 126 "$rc"
check "terminal" "/dev/pts/0" "$("${P[@]}" run --rm -t --network none localhost/berth-bb:latest tty | tr -d '\r')"
check "seccomp profile applied" "2" "$("${R[@]}" sh -c 'grep Seccomp: /proc/self/status | cut -f2')"

"${P[@]}" run -d --name c1 --network none localhost/berth-bb:latest sleep 1000 >/dev/null
check "exec" "exec-ok" "$("${P[@]}" exec c1 echo exec-ok)"
check "exec with user, env, workdir" "1000 bar /tmp" "$("${P[@]}" exec -u 1000 -e FOO=bar -w /tmp c1 sh -c 'echo $(id -u) $FOO $(pwd)')"
contains "exec with a terminal" "/dev/pts/" "$("${P[@]}" exec -t c1 tty)"
"${P[@]}" exec c1 sh -c 'exit 7'; check "exec exit code" 7 "$?"
"${P[@]}" pause c1 >/dev/null; check "pause" "paused" "$("${P[@]}" inspect -f '{{.State.Status}}' c1)"
"${P[@]}" unpause c1 >/dev/null; check "unpause" "running" "$("${P[@]}" inspect -f '{{.State.Status}}' c1)"
"${P[@]}" update --memory 64m --cpu-shares 512 c1 >/dev/null 2>&1; check "update memory" "67108864" "$("${P[@]}" exec c1 cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null)"
check "update cpu" "512" "$("${P[@]}" exec c1 sh -c 'cat /sys/fs/cgroup/cpu*/cpu.shares | head -1' 2>/dev/null)"
contains "top" "sleep 1000" "$("${P[@]}" top c1 2>&1)"
"${P[@]}" stop -t 1 c1 >/dev/null 2>&1; check "stop (TERM, then KILL)" "exited" "$("${P[@]}" inspect -f '{{.State.Status}}' c1)"
"${P[@]}" rm c1 >/dev/null
podman_signals
echo "podman ($name):"
echo "engines: $pass passed, $fail failed"
[ "$fail" = 0 ]
