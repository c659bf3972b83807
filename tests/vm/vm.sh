#!/bin/bash
# vm.sh: run a command in a throw-away qemu VM whose cgroups are pure v2,
# with nothing but Debian packages. This host is hybrid (v1 controllers)
# and has no systemd, so this is where berth meets the other layouts.
#
#   vm.sh kernel                        fetch and unpack Debian's kernel (cached)
#   vm.sh image                         build the systemd root filesystem image (cached)
#   vm.sh run [--systemd] DIR CMD...    boot, copy DIR in (the cwd), run CMD with sh;
#                                       its output comes back on stdout, its status
#                                       is this script's
#
# Plain boot: a busybox initramfs is the whole system; it mounts only
# cgroup2 (the kernel gets cgroup_no_v1=all,named, so v1 cannot even be
# mounted) and enables every controller for the children, as systemd does.
# --systemd: a Debian 12 root filesystem (mmdebstrap: systemd, dbus) on a
# disk image booted with systemd as PID 1; a unit runs CMD once the system
# is up, then powers off. The image is used with -snapshot, never written.
#
# The kernel is unpacked, never installed: installing linux-image-amd64
# here would pull systemd into the host. /dev/kvm on this machine is PVM,
# which cannot boot Debian's kernel, so qemu emulates (TCG) unless a real
# kvm_intel/kvm_amd is loaded.
#
# Environment: BERTH_VM_CACHE (default /var/tmp/berth-vm), BERTH_VM_MEM
# (MiB, default 2048), BERTH_VM_SMP (default 2), BERTH_VM_TIMEOUT (seconds,
# default 1200), BERTH_VM_APPEND (more kernel arguments), BERTH_VM_VERBOSE=1
# streams the guest console to stderr.
set -euo pipefail

CACHE=${BERTH_VM_CACHE:-/var/tmp/berth-vm}
MEM=${BERTH_VM_MEM:-2048}
SMP=${BERTH_VM_SMP:-2}
TIMEOUT=${BERTH_VM_TIMEOUT:-1200}
# What the systemd image holds; changing this list rebuilds the image.
IMAGE_PACKAGES=systemd-sysv,dbus,kmod,procps,busybox-static,runc,criu,iproute2,iptables,uidmap,passwd,dbus-user-session,libpam-systemd,selinux-policy-default,selinux-utils
# Modules the systemd boot needs before it can mount its disk.
DISK_MODULES="virtio_pci virtio_blk crc32c_generic ext4"

say() { echo "vm: $*" >&2; }
fail() { say "error: $*"; exit 125; }

cmd_kernel() {
    local pkg have
    pkg=$(apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-[0-9]/ {print $2; exit}')
    if [ -z "$pkg" ]; then
        apt-get update -qq
        pkg=$(apt-cache depends linux-image-amd64 | awk '/Depends: linux-image-[0-9]/ {print $2; exit}')
    fi
    [ -n "$pkg" ] || fail "cannot find the package behind linux-image-amd64"
    have=$(cat "$CACHE/kernel/package" 2>/dev/null || true)
    [ "$have" = "$pkg" ] && [ -f "$CACHE/kernel/vmlinux" ] && return 0
    local k=$CACHE/kernel.new
    rm -rf "$k" && mkdir -p "$k/deb"
    (cd "$k/deb" && apt-get download "$pkg" >/dev/null)
    dpkg-deb -x "$k"/deb/*.deb "$k/deb/root"
    local ver
    ver=$(ls "$k/deb/root/lib/modules")
    # A VM needs none of the hardware drivers: 400 MB of modules become 90.
    (cd "$k/deb/root/lib/modules/$ver/kernel" &&
        rm -rf sound $(ls -d drivers/* | grep -vE '^drivers/(virtio|block|char|net|md)$') &&
        rm -rf $(ls -d drivers/net/*/ | grep -vE '/(bonding|ipvlan|team|vxlan)/$'))
    busybox depmod -b "$k/deb/root" "$ver"
    # qemu boots the ELF vmlinux directly (PVH entry): the in-guest xz
    # decompressor would cost seconds under emulation.
    local bz=$k/deb/root/boot/vmlinuz-$ver off
    off=$(LC_ALL=C grep -obUaP '\xFD7zXZ\x00' "$bz" | head -1 | cut -d: -f1)
    [ -n "$off" ] || fail "no xz payload in $bz"
    tail -c +$((off + 1)) "$bz" | xz -dc > "$k/vmlinux" 2>/dev/null || true
    head -c4 "$k/vmlinux" | grep -q ELF || fail "could not extract vmlinux from $bz"
    mkdir -p "$k/lib/modules"
    mv "$k/deb/root/lib/modules/$ver" "$k/lib/modules/"
    rm -rf "$k/deb"
    echo "$ver" > "$k/version"
    echo "$pkg" > "$k/package"
    rm -rf "$CACHE/kernel" && mv "$k" "$CACHE/kernel"
    rm -f "$CACHE/systemd.img" "$CACHE/systemd.key"   # its modules came from the old kernel
    say "kernel $pkg unpacked into $CACHE/kernel"
}

cmd_image() {
    cmd_kernel
    local key
    key="$IMAGE_PACKAGES $(cat "$CACHE/kernel/package")"
    [ -f "$CACHE/systemd.img" ] && [ "$(cat "$CACHE/systemd.key" 2>/dev/null)" = "$key" ] && return 0
    command -v mmdebstrap >/dev/null || fail "mmdebstrap is missing (make vm-deps)"
    local dir=$CACHE/systemd-root.new ver
    ver=$(cat "$CACHE/kernel/version")
    rm -rf "$dir"
    # Units that would wait for a terminal or the network are masked.
    mmdebstrap --variant=minbase --include="$IMAGE_PACKAGES" \
        --customize-hook='echo berthvm > "$1/etc/hostname"' \
        --customize-hook="mkdir -p \"\$1/lib/modules\" && cp -a '$CACHE/kernel/lib/modules/.' \"\$1/lib/modules/\" && chroot \"\$1\" depmod -a $ver" \
        --customize-hook='for u in serial-getty@ttyS0.service getty@tty1.service systemd-firstboot.service systemd-timesyncd.service apt-daily.timer apt-daily-upgrade.timer e2scrub_reap.service; do ln -sf /dev/null "$1/etc/systemd/system/$u"; done' \
        --customize-hook='chroot "$1" systemd-machine-id-setup' \
        bookworm "$dir" \
        "deb http://deb.debian.org/debian bookworm main" \
        "deb http://deb.debian.org/debian bookworm-updates main" \
        "deb http://deb.debian.org/debian-security bookworm-security main" >&2
    local mib=$(( $(du -sm "$dir" | cut -f1) * 13 / 10 + 768 ))
    rm -f "$CACHE/systemd.img.new"
    mkfs.ext4 -q -F -L berthvm -d "$dir" "$CACHE/systemd.img.new" "${mib}M"
    rm -rf "$dir"
    mv "$CACHE/systemd.img.new" "$CACHE/systemd.img"
    echo "$key" > "$CACHE/systemd.key"
    say "systemd image built: $CACHE/systemd.img"
}

# Copy module $2... and what each depends on into the initramfs at $1.
copy_modules() {
    local root=$1 ver dir m deps f
    shift
    ver=$(cat "$CACHE/kernel/version")
    dir=$CACHE/kernel/lib/modules/$ver
    mkdir -p "$root/lib/modules/$ver"
    cp "$dir"/modules.dep "$dir"/modules.alias "$dir"/modules.symbols "$dir"/modules.builtin "$root/lib/modules/$ver/"
    for m; do
        deps=$(awk -v m="/${m//_/[-_]}.ko" 'index($1, ":") { n = $1; sub(/:$/, "", n); if (n ~ m "(\\.xz)?$") { sub(/:/, ""); print; exit } }' "$dir/modules.dep")
        if [ -z "$deps" ]; then
            grep -q "/$m.ko" "$dir/modules.builtin" && continue
            fail "kernel module $m not found"
        fi
        for f in $deps; do
            mkdir -p "$root/lib/modules/$ver/$(dirname "$f")"
            cp "$dir/$f" "$root/lib/modules/$ver/$f"
        done
    done
}

write_init() {
    local r=$1
    cat > "$r/init" <<'EOF'
#!/bin/busybox sh
# PID 1 of the initramfs: the whole system (plain) or the first stage
# (systemd). pivot_root(2) does not work from the initramfs itself, and
# containers need it, so the plain boot first moves to a tmpfs.
/bin/busybox --install -s
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
mode=$(cat /vm/mode)
if [ "$mode" = plain ] && [ "${1:-}" != moved ]; then
    mkdir /newroot && mount -t tmpfs -o mode=755 tmpfs /newroot
    for e in /*; do case $e in /newroot|/proc|/sys|/dev) ;; *) cp -a "$e" /newroot/ ;; esac; done
    mkdir -p /newroot/proc /newroot/sys /newroot/dev
    exec switch_root /newroot /init moved
fi
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
for m in $(cat /vm/modules); do modprobe "$m" || echo "vm: modprobe $m failed"; done
if [ "$mode" = plain ]; then
    mkdir -p /dev/pts /dev/shm /dev/mqueue /run /tmp /var/tmp /sys/fs/cgroup
    mount -t devpts -o newinstance,ptmxmode=0666 devpts /dev/pts
    ln -sf pts/ptmx /dev/ptmx
    mount -t tmpfs tmpfs /dev/shm
    mount -t mqueue mqueue /dev/mqueue
    mount -t tmpfs -o mode=755 tmpfs /run
    mount -t tmpfs -o mode=1777 tmpfs /tmp
    mount -t cgroup2 -o nsdelegate cgroup2 /sys/fs/cgroup
    for c in $(cat /sys/fs/cgroup/cgroup.controllers); do
        echo "+$c" > /sys/fs/cgroup/cgroup.subtree_control
    done
    mkdir -p /etc /root
    echo "root:x:0:0:root:/root:/bin/sh" > /etc/passwd
    echo "root:x:0:" > /etc/group
    echo berthvm > /etc/hostname
    ip link set lo up
    hostname berthvm
    sh /vm/run.sh
    poweroff -f
fi
i=0
while [ ! -b /dev/vda ] && [ $i -lt 200 ]; do sleep 0.1; i=$((i + 1)); done
mkdir /newroot
mount -t ext4 /dev/vda /newroot || { echo "vm: cannot mount /dev/vda"; poweroff -f; }
rm -rf /newroot/vm && cp -a /vm /newroot/vm
cp /vm/berth-vm.service /newroot/etc/systemd/system/
mkdir -p /newroot/etc/systemd/system/multi-user.target.wants
ln -sf ../berth-vm.service /newroot/etc/systemd/system/multi-user.target.wants/
umount /proc /sys
mount --move /dev /newroot/dev
exec switch_root /newroot /lib/systemd/systemd
EOF
    chmod 755 "$r/init"
    # The command's output goes to the second serial port (this script's
    # stdout); the status to the console, where the host looks for it.
    cat > "$r/vm/run.sh" <<'EOF'
cd /vm/in
export PATH=/vm/in:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export HOME=/root
stty -F /dev/ttyS1 raw -echo 2>/dev/null
# Tests create cgroups below their own: run from the root cgroup, which
# alone may hold processes beside children with controllers.
echo $$ > /sys/fs/cgroup/cgroup.procs
sh /vm/cmd < /dev/null > /dev/ttyS1 2>&1
echo "@@berth-vm-status=$?@@" > /dev/ttyS0
EOF
    cat > "$r/vm/berth-vm.service" <<'EOF'
[Unit]
Description=berth VM tests, then power off
After=multi-user.target
SuccessAction=poweroff-force
FailureAction=poweroff-force

[Service]
Type=oneshot
ExecStart=/bin/sh /vm/run.sh
StandardInput=null
TimeoutStartSec=infinity
Delegate=yes
EOF
}

cmd_run() {
    local mode=plain
    if [ "${1:-}" = --systemd ]; then mode=systemd; shift; fi
    [ $# -ge 2 ] || fail "usage: vm.sh run [--systemd] DIR CMD..."
    local src=$1
    shift
    [ -d "$src" ] || fail "$src is not a directory"
    [ -f "$CACHE/kernel/vmlinux" ] || fail "no kernel in $CACHE: run 'vm.sh kernel' first"
    [ $mode = plain ] || [ -f "$CACHE/systemd.img" ] || fail "no image in $CACHE: run 'vm.sh image' first"

    local accel=tcg cpu=max
    if [ -w /dev/kvm ] && { [ -d /sys/module/kvm_intel ] || [ -d /sys/module/kvm_amd ]; }; then
        accel=kvm cpu=host
    fi
    local w
    w=$(mktemp -d /tmp/berth-vm.XXXXXX)
    trap 'rm -rf "$w"' EXIT
    local r=$w/initramfs
    mkdir -p "$r/bin" "$r/sbin" "$r/usr/bin" "$r/usr/sbin" "$r/vm/in"
    cp /bin/busybox "$r/bin/"
    echo $mode > "$r/vm/mode"
    local a q=""
    for a; do q+="'${a//\'/\'\\\'\'}' "; done
    echo "$q" > "$r/vm/cmd"
    cp -a "$src/." "$r/vm/in/"
    write_init "$r"
    local modules=${BERTH_VM_MODULES:-}
    [ $mode = systemd ] && modules="$DISK_MODULES $modules"
    echo "$modules" > "$r/vm/modules"
    [ -n "${modules// /}" ] && copy_modules "$r" $modules
    (cd "$r" && find . | busybox cpio -o -H newc 2>/dev/null) > "$w/initrd"

    local append="console=ttyS0 quiet panic=-1 softlockup_panic=1"
    local disk=()
    if [ $mode = plain ]; then
        append+=" cgroup_no_v1=all,named"
    else
        append+=" systemd.show_status=error"
        disk=(-drive "file=$CACHE/systemd.img,format=raw,if=virtio,cache=unsafe" -snapshot)
    fi
    append+=" ${BERTH_VM_APPEND:-}"
    : > "$w/console"
    local tailer=""
    if [ "${BERTH_VM_VERBOSE:-0}" = 1 ]; then
        tail -f "$w/console" >&2 &
        tailer=$!
    fi
    local t0=$SECONDS rc=0
    timeout -k 5 "$TIMEOUT" qemu-system-x86_64 -accel $accel -cpu $cpu -smp "$SMP" -m "$MEM" \
        -nodefaults -no-user-config -display none -no-reboot \
        -serial "file:$w/console" -chardev stdio,id=out,signal=off -serial chardev:out \
        -kernel "$CACHE/kernel/vmlinux" -initrd "$w/initrd" -append "$append" "${disk[@]}" \
        </dev/null || rc=$?
    [ -n "$tailer" ] && kill "$tailer" 2>/dev/null
    local status
    status=$(grep -ao '@@berth-vm-status=[0-9]*@@' "$w/console" | tail -1 | tr -dc 0-9 || true)
    if [ -z "$status" ]; then
        [ $rc = 124 ] && say "timed out after ${TIMEOUT}s"
        say "no status came back from the guest (qemu exit $rc); its console:"
        tr -d '\r' < "$w/console" | tail -60 >&2
        exit 125
    fi
    say "$mode boot ($accel): status $status after $((SECONDS - t0))s"
    exit "$status"
}

case "${1:-}" in
    kernel) cmd_kernel ;;
    image) cmd_image ;;
    run) shift; cmd_run "$@" ;;
    *) sed -n '2,/^set -euo/p' "$0" | sed -n 's/^# \{0,1\}//p' >&2; exit 2 ;;
esac
