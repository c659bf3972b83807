#!/bin/bash
# containerd (ctr) and Docker drive the runtime end to end. Both daemons run
# with their own root, state and socket paths (never the system defaults),
# are stopped by PID, and everything they made is removed at the end.
# usage: docker.sh RUNTIME_BINARY ROOTFS DOCKER_DIR
#   DOCKER_DIR holds usr/bin/docker and usr/sbin/dockerd (docker.io unpacked)
set -u
runtime=${1:?runtime binary}
rootfs=${2:?busybox rootfs}
dockerdir=${3:?unpacked docker.io}
name=$(basename "$runtime")
work=$(mktemp -d /var/tmp/berth-docker.XXXXXX)
run=/run/berth-engines-$$
mkdir -p "$run"
pass=0 fail=0
. "$(dirname "$0")/lib.sh"

pids=()
cleanup() {
	"${D[@]}" rm -f $("${D[@]}" ps -aq 2>/dev/null) >/dev/null 2>&1
	for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
		kill "${pids[$i]}" 2>/dev/null
		for _ in $(seq 50); do kill -0 "${pids[$i]}" 2>/dev/null || break; sleep 0.1; done
		kill -9 "${pids[$i]}" 2>/dev/null
	done
	for m in $(awk -v a="$work" -v b="$run" 'index($5, a) == 1 || index($5, b) == 1 {print $5}' /proc/self/mountinfo | sort -r); do
		umount -l "$m" 2>/dev/null
	done
	rm -rf "$work" "$run"
}
trap cleanup EXIT

cat >"$work/containerd.toml" <<CONF
version = 2
root = "$work/containerd-root"
state = "$run/containerd"
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = "$run/containerd.sock"
CONF
containerd --config "$work/containerd.toml" >"$work/containerd.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do [ -S "$run/containerd.sock" ] && break; sleep 0.1; done
PATH=$dockerdir/usr/bin:$dockerdir/usr/sbin:$PATH dockerd --data-root "$work/docker" --exec-root "$run/docker" \
	--pidfile "$run/dockerd.pid" -H "unix://$run/docker.sock" --containerd "$run/containerd.sock" \
	--add-runtime "under-test=$runtime" --bridge=none --iptables=false --ip6tables=false \
	--exec-opt native.cgroupdriver=cgroupfs >"$work/dockerd.log" 2>&1 &
pids+=($!)
D=("$dockerdir/usr/bin/docker" -H "unix://$run/docker.sock")
for _ in $(seq 100); do "${D[@]}" info >/dev/null 2>&1 && break; sleep 0.2; done
"${D[@]}" info >/dev/null 2>&1 || { echo "not ok - dockerd did not start:"; tail -5 "$work/dockerd.log"; exit 1; }
C=(ctr --address "$run/containerd.sock")

# Docker
tar -C "$rootfs" -c . | "${D[@]}" import - berth-bb:latest >/dev/null || { echo "not ok - docker import"; exit 1; }
R=("${D[@]}" run --rm --runtime under-test --network none berth-bb:latest)
check "docker run" "hello" "$("${R[@]}" echo hello 2>&1)"
"${R[@]}" sh -c 'exit 42'; check "docker exit code" 42 "$?"
out=$("${R[@]}" /nonexistent 2>&1); rc=$?
check "docker missing entrypoint maps to 127" 127 "$rc"
contains "docker shows the runtime's message" "no such file or directory" "$out"
"${R[@]}" /etc/passwd >/dev/null 2>&1; check "docker not executable maps to 126" 126 "$?"
check "docker seccomp profile" "2" "$("${R[@]}" sh -c 'grep Seccomp: /proc/self/status | cut -f2')"
check "docker terminal" "/dev/pts/0" "$("${D[@]}" run --rm -t --runtime under-test --network none berth-bb:latest tty | tr -d '\r')"
"${D[@]}" run -d --name d1 --runtime under-test --network none berth-bb:latest sleep 1000 >/dev/null
check "docker exec" "exec-ok" "$("${D[@]}" exec d1 echo exec-ok)"
check "docker exec with user, env, workdir" "1000 bar /tmp" "$("${D[@]}" exec -u 1000 -e FOO=bar -w /tmp d1 sh -c 'echo $(id -u) $FOO $(pwd)')"
contains "docker exec -t" "/dev/pts/" "$("${D[@]}" exec -t d1 tty)"
"${D[@]}" pause d1 >/dev/null; check "docker pause" "paused" "$("${D[@]}" inspect -f '{{.State.Status}}' d1)"
"${D[@]}" unpause d1 >/dev/null; check "docker unpause" "running" "$("${D[@]}" inspect -f '{{.State.Status}}' d1)"
"${D[@]}" update --memory 64m --memory-swap 128m --cpu-shares 512 d1 >/dev/null
check "docker update" "67108864" "$("${D[@]}" exec d1 cat /sys/fs/cgroup/memory/memory.limit_in_bytes)"
check "docker update cpu" "512" "$("${D[@]}" exec d1 sh -c 'cat /sys/fs/cgroup/cpu*/cpu.shares | head -1')"
contains "docker top" "sleep 1000" "$("${D[@]}" top d1)"
# Docker's libnetwork hook rides in the bundle as a prestart hook, which
# berth ran during create (or the container would not be running).
cid=$("${D[@]}" inspect -f '{{.Id}}' d1)
cfg=$(find "$run/containerd" -name config.json -path "*$cid*" 2>/dev/null | head -1)
contains "docker prestart hook in the bundle, run" "libnetwork-setkey" "$(cat "$cfg" 2>/dev/null)"
"${D[@]}" run -d --name d2 --runtime under-test --network none berth-bb:latest \
	sh -c 'trap "exit 3" USR1; while :; do sleep 0.1; done' >/dev/null
sleep 0.5
"${D[@]}" kill -s USR1 d2 >/dev/null
check "docker kill delivers the signal" 3 "$("${D[@]}" wait d2)"
"${D[@]}" rm d2 >/dev/null
"${D[@]}" run -d --name d3 --runtime under-test --network none berth-bb:latest sleep 1000 >/dev/null
"${D[@]}" rm -f d3 >/dev/null
check "docker rm -f of a running container" "" "$("${D[@]}" ps -aq -f name=d3)"
"${D[@]}" stop -t 1 d1 >/dev/null; check "docker stop" "exited" "$("${D[@]}" inspect -f '{{.State.Status}}' d1)"
"${D[@]}" rm d1 >/dev/null

# containerd through ctr and its runc v2 shim
# (the image comes from Docker's save: no registry involved)
"${C[@]}" images import --base-name localhost/berth-bb --index-name localhost/berth-bb:latest <("${D[@]}" save berth-bb:latest) >/dev/null 2>&1
img=$("${C[@]}" images ls -q | head -1)
if [ -n "$img" ]; then
	check "ctr run" "hello from containerd" "$("${C[@]}" run --rm --runc-binary "$runtime" "$img" k1 echo hello from containerd)"
	"${C[@]}" run --rm --runc-binary "$runtime" "$img" k2 sh -c 'exit 5'; check "ctr exit code" 5 "$?"
	contains "ctr shows the runtime's message" "no such file or directory" \
		"$("${C[@]}" run --rm --runc-binary "$runtime" "$img" k4 /nonexistent 2>&1)"
	"${C[@]}" container rm k4 >/dev/null 2>&1
	"${C[@]}" run -d --runc-binary "$runtime" "$img" k3 sleep 1000 >/dev/null
	check "ctr exec" "exec-ok" "$("${C[@]}" task exec --exec-id e1 k3 echo exec-ok)"
	"${C[@]}" task kill -s KILL k3 >/dev/null; sleep 0.3
	"${C[@]}" task rm k3 >/dev/null 2>&1; "${C[@]}" container rm k3 >/dev/null 2>&1
	check "ctr cleaned up" "" "$("${C[@]}" container ls -q)"
else
	check "ctr image import" "an image" "none"
fi

leftovers=$(ls -d /sys/fs/cgroup/*/docker/*/ /sys/fs/cgroup/*/default/*/ 2>/dev/null | head -3)
check "no container cgroups left" "" "$leftovers"
echo "docker and containerd ($name):"
echo "engines: $pass passed, $fail failed"
[ "$fail" = 0 ]
