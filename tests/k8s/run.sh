#!/bin/bash
# make k8s: containerd's CRI plugin runs a pod through a `berth` runtime
# handler, driven the way the kubelet drives it (tests/k8s/src/main.rs),
# then the same pod through a `runc` handler as the control: if runc
# fails, the stage is wrong, not berth.
#
# containerd is Debian's 1.6 with its CRI plugin, on its own root, state,
# socket and runtime roots; CNI is Debian's bridge and host-local plugins
# on a bridge and subnet of this run's own (no iptables rules). The pause
# image and the workload image (the busybox test rootfs) are OCI archives
# built here and imported into the k8s.io namespace: there is no
# registry. Everything is stopped by PID and removed at the end.
# usage: run.sh BERTH ROOTFS CRI_POD_CLIENT
set -u
berth=${1:?berth binary}
rootfs=${2:?busybox rootfs}
client=${3:?cri-pod binary}
runc=${RUNC:-/usr/sbin/runc}
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d /var/tmp/berth-k8s.XXXXXX)
run=/run/berth-k8s-$$
bridge=berthk8s$((RANDOM % 100000))
subnet=10.250.$((RANDOM % 200 + 20)).0/24
cgparent=berth-k8s-$$
mkdir -p "$run" "$work/cni" "$work/logs-berth" "$work/logs-runc"
netns_before=$(ls /var/run/netns 2>/dev/null | sort)

containerd_pid=
cleanup() {
	[ -n "$containerd_pid" ] && kill "$containerd_pid" 2>/dev/null
	for _ in $(seq 50); do kill -0 "$containerd_pid" 2>/dev/null || break; sleep 0.1; done
	# What a failed run left: the shims (their command line names our
	# socket), then what ran in our cgroups.
	for p in /proc/[0-9]*; do
		tr '\0' ' ' <"$p/cmdline" 2>/dev/null | grep -qF -- "$run/containerd.sock" && kill -9 "${p#/proc/}" 2>/dev/null
	done
	for d in $(find /sys/fs/cgroup -depth -type d -path "*/$cgparent*" 2>/dev/null); do
		for p in $(cat "$d/cgroup.procs" 2>/dev/null); do kill -9 "$p" 2>/dev/null; done
	done
	sleep 0.2
	for d in $(find /sys/fs/cgroup -depth -type d -path "*/$cgparent*" 2>/dev/null); do rmdir "$d" 2>/dev/null; done
	for m in $(awk -v a="$work" -v b="$run" 'index($5, a) == 1 || index($5, b) == 1 {print $5}' /proc/self/mountinfo | sort -r); do
		umount -l "$m" 2>/dev/null
	done
	for n in $(comm -13 <(echo "$netns_before") <(ls /var/run/netns 2>/dev/null | sort)); do
		umount "/var/run/netns/$n" 2>/dev/null; rm -f "/var/run/netns/$n"
	done
	ip link del "$bridge" 2>/dev/null
	rm -rf "$work" "$run"
}
trap cleanup EXIT

# An OCI archive of one layer (DIR's contents) named NAME, with ENTRYPOINT.
oci_archive() { # oci_archive OUT NAME DIR ENTRYPOINT_JSON
	local out=$1 name=$2 dir=$3 entry=$4 o
	o=$(mktemp -d "$work/oci.XXXXXX")
	mkdir -p "$o/blobs/sha256"
	tar --numeric-owner --owner=0 --group=0 -C "$dir" -cf "$o/layer" .
	local ld ls cd cs md ms
	ld=$(sha256sum <"$o/layer" | cut -d' ' -f1); ls=$(stat -c %s "$o/layer")
	mv "$o/layer" "$o/blobs/sha256/$ld"
	printf '{"architecture":"amd64","os":"linux","config":{"Entrypoint":%s,"Env":["PATH=/usr/sbin:/usr/bin:/sbin:/bin"]},"rootfs":{"type":"layers","diff_ids":["sha256:%s"]}}' \
		"$entry" "$ld" >"$o/config"
	cd=$(sha256sum <"$o/config" | cut -d' ' -f1); cs=$(stat -c %s "$o/config")
	mv "$o/config" "$o/blobs/sha256/$cd"
	printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:%s","size":%s},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"sha256:%s","size":%s}]}' \
		"$cd" "$cs" "$ld" "$ls" >"$o/manifest"
	md=$(sha256sum <"$o/manifest" | cut -d' ' -f1); ms=$(stat -c %s "$o/manifest")
	mv "$o/manifest" "$o/blobs/sha256/$md"
	printf '{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:%s","size":%s,"annotations":{"io.containerd.image.name":"%s","org.opencontainers.image.ref.name":"%s"}}]}' \
		"$md" "$ms" "$name" "${name##*:}" >"$o/index.json"
	echo '{"imageLayoutVersion":"1.0.0"}' >"$o/oci-layout"
	tar -C "$o" -cf "$out" oci-layout index.json blobs
}

mkdir -p "$work/pause-root"
gcc -static -O2 -Wall -o "$work/pause-root/pause" "$here/pause.c" || exit 1
oci_archive "$work/pause.tar" berth.test/pause:1 "$work/pause-root" '["/pause"]'
oci_archive "$work/busybox.tar" berth.test/busybox:1 "$rootfs" '["/bin/sh"]'

cat >"$work/cni/10-berth.conflist" <<CONF
{"cniVersion": "0.4.0", "name": "berth-k8s", "plugins": [
  {"type": "bridge", "bridge": "$bridge", "isGateway": false, "ipMasq": false,
   "ipam": {"type": "host-local", "ranges": [[{"subnet": "$subnet"}]], "dataDir": "$work/cni-ipam"}}
]}
CONF

cri='plugins."io.containerd.grpc.v1.cri"'
cat >"$work/containerd.toml" <<CONF
version = 2
root = "$work/containerd-root"
state = "$run/containerd"
disabled_plugins = ["io.containerd.internal.v1.opt", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.aufs"]
[grpc]
  address = "$run/containerd.sock"
[ttrpc]
  address = "$run/containerd.sock.ttrpc"
[$cri]
  sandbox_image = "berth.test/pause:1"
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  enable_selinux = false
  disable_apparmor = true
  # Lowering an oom_score_adj takes CAP_SYS_RESOURCE, which this host's
  # bounding set lacks: the pause container's -998 becomes containerd's own.
  restrict_oom_score_adj = true
  [$cri.containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [$cri.containerd.runtimes.berth]
      runtime_type = "io.containerd.runc.v2"
      [$cri.containerd.runtimes.berth.options]
        BinaryName = "$berth"
        Root = "$work/berth-root"
    [$cri.containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [$cri.containerd.runtimes.runc.options]
        BinaryName = "$runc"
        Root = "$work/runc-root"
  [$cri.cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$work/cni"
CONF

containerd --config "$work/containerd.toml" >"$work/containerd.log" 2>&1 &
containerd_pid=$!
for _ in $(seq 100); do [ -S "$run/containerd.sock" ] && break; sleep 0.1; done
C=(ctr --address "$run/containerd.sock" -n k8s.io)
for i in pause busybox; do
	"${C[@]}" images import "$work/$i.tar" >/dev/null || { echo "not ok - import the $i image"; tail -20 "$work/containerd.log"; exit 1; }
done

status=0
for handler in berth runc; do
	echo "== a pod through the $handler handler"
	if ! "$client" --socket "$run/containerd.sock" --handler "$handler" --image berth.test/busybox:1 \
		--logs "$work/logs-$handler" --cgroup-parent "/$cgparent-$handler" --runtime-root "$work/$handler-root" \
		| tee "$work/result-$handler"; then
		status=1
		[ "$handler" = runc ] && echo "not ok - the control failed: the stage, not berth, is wrong"
		echo "containerd's log (last lines):"; tail -30 "$work/containerd.log"
	fi
done
echo "== exec probe latency through CRI (one run, same machine):"
grep -h '^exec-latency' "$work"/result-* 2>/dev/null
exit $status
