#!/bin/bash
# Rootless Podman drives the runtime: an unprivileged user (berth-rootless,
# made here with subuid/subgid ranges if missing, as tests/rootless.rs does)
# runs podman, which makes the user namespace (newuidmap/newgidmap) and
# calls the runtime inside it. Storage, run root and XDG_RUNTIME_DIR are
# private to this run, owned by the user, and removed at the end.
# Without systemd and on a v1 host there are no cgroups for the user:
# cgroupfs manager, file events, and the runtime skips cgroups.
# usage: podman-rootless.sh RUNTIME_BINARY ROOTFS   (as root; may be runc)
set -u
runtime=${1:?runtime binary}
rootfs=${2:?busybox rootfs}
name=$(basename "$runtime")
user=berth-rootless
pass=0 fail=0

[ "$(id -u)" = 0 ] || { echo "not ok - run as root: it makes the test user"; exit 1; }
getent passwd "$user" >/dev/null ||
	useradd --no-create-home --user-group --home-dir /nonexistent --shell /usr/sbin/nologin "$user" ||
	{ echo "not ok - useradd $user"; exit 1; }
for f in subuid subgid; do
	if ! grep -q "^$user:" /etc/$f; then
		start=$(awk -F: 'BEGIN{m=100000} {e=$2+$3; if (e>m) m=e} END{print m}' /etc/$f)
		usermod --add-${f}s "$start-$((start + 65535))" "$user" || { echo "not ok - $f range"; exit 1; }
	fi
done
uid=$(id -u "$user") gid=$(id -g "$user")

# The user must reach everything: a 0755 work dir, the runtime copied in.
work=$(mktemp -d /var/tmp/berth-podman-rootless.XXXXXX)
chmod 755 "$work"
mkdir -p "$work/bin" "$work/home" "$work/xdg"
cp "$runtime" "$work/bin/$name"
chmod 755 "$work/bin/$name"
chown "$uid:$gid" "$work/home" "$work/xdg"
chmod 700 "$work/xdg"
cat >"$work/containers.conf" <<CONF
[containers]
default_ulimits = []
[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
runtime_supports_json = ["$name"]
[engine.runtimes]
$name = ["$work/bin/$name"]
CONF
chmod 644 "$work/containers.conf"

# podman as the user, with nothing of root's environment.
U=(setpriv --reuid "$uid" --regid "$gid" --init-groups --
	env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME="$work/home" USER=$user LOGNAME=$user
	XDG_RUNTIME_DIR="$work/xdg" XDG_CONFIG_HOME="$work/home/.config" CONTAINERS_CONF="$work/containers.conf")
P=("${U[@]}" podman --root "$work/home/storage" --runroot "$work/xdg/run" --runtime "$name"
	--cgroup-manager cgroupfs --events-backend file)

. "$(dirname "$0")/lib.sh"

cleanup() {
	"${P[@]}" rm -af >/dev/null 2>&1
	"${P[@]}" rmi -af >/dev/null 2>&1
	"${P[@]}" system reset -f >/dev/null 2>&1
	# The user namespace's holder (podman's pause process) is this run's:
	# its pid file is under our XDG_RUNTIME_DIR.
	for f in "$work"/xdg/libpod/tmp/pause.pid; do
		[ -f "$f" ] && kill "$(cat "$f")" 2>/dev/null
	done
	for m in $(awk -v w="$work" '$5 ~ "^"w {print $5}' /proc/self/mountinfo | sort -r); do umount -l "$m" 2>/dev/null; done
	rm -rf "$work"
}
trap cleanup EXIT

tar -C "$rootfs" -c . | "${P[@]}" import - localhost/berth-bb:latest >"$work/import.log" 2>&1 ||
	{ echo "not ok - import image: $(cat "$work/import.log")"; exit 1; }
R=("${P[@]}" run --rm --network none localhost/berth-bb:latest)

check "run prints output" "hello" "$("${R[@]}" echo hello 2>&1)"
# The container's root is the user; other ids come from its subuid range.
check "root in the container is the user" "0 $uid 1" "$("${R[@]}" sh -c 'head -1 /proc/self/uid_map | tr -s " " | sed "s/^ //"')"
subuid=$(awk -F: -v u="$user" '$1 == u {print $2; exit}' /etc/subuid)
check "the subordinate range is mapped" "1 $subuid 65536" "$("${R[@]}" sh -c 'sed -n 2p /proc/self/uid_map | tr -s " " | sed "s/^ //"')"
"${R[@]}" sh -c 'exit 42'; check "non-zero exit code" 42 "$?"
out=$("${R[@]}" /nonexistent 2>&1); rc=$?
check "missing entrypoint maps to 127" 127 "$rc"
contains "missing entrypoint shows the runtime's message" "no such file or directory" "$out"
check "a user from the range" "1000:1000" "$("${P[@]}" run --rm --network none -u 1000:1000 localhost/berth-bb:latest sh -c 'echo $(id -u):$(id -g)')"
check "terminal" "/dev/pts/0" "$("${P[@]}" run --rm -t --network none localhost/berth-bb:latest tty | tr -d '\r')"
check "seccomp profile applied" "2" "$("${R[@]}" sh -c 'grep Seccomp: /proc/self/status | cut -f2')"

"${P[@]}" run -d --name c1 --network none localhost/berth-bb:latest sleep 1000 >/dev/null
check "detached container runs" "running" "$("${P[@]}" inspect -f '{{.State.Status}}' c1)"
check "exec" "exec-ok" "$("${P[@]}" exec c1 echo exec-ok)"
check "exec with user, env, workdir" "1000 bar /tmp" "$("${P[@]}" exec -u 1000 -e FOO=bar -w /tmp c1 sh -c 'echo $(id -u) $FOO $(pwd)')"
"${P[@]}" exec c1 sh -c 'exit 7'; check "exec exit code" 7 "$?"
check "ps lists it" "c1" "$("${P[@]}" ps --format '{{.Names}}' -f name=c1)"
contains "top" "sleep 1000" "$("${P[@]}" top c1 2>&1)"
pid=$("${P[@]}" inspect -f '{{.State.Pid}}' c1)
check "its init runs as the user on the host" "$uid" "$(awk '/^Uid:/ {print $2}' /proc/"$pid"/status 2>/dev/null)"
"${P[@]}" stop -t 1 c1 >/dev/null 2>&1; check "stop (TERM, then KILL)" "exited" "$("${P[@]}" inspect -f '{{.State.Status}}' c1)"
"${P[@]}" rm c1 >/dev/null
check "rm" "" "$("${P[@]}" ps -aq -f name=c1)"
podman_signals

echo "podman rootless ($name):"
echo "engines: $pass passed, $fail failed"
[ "$fail" = 0 ]
