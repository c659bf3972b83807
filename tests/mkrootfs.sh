#!/bin/sh
# Build a busybox root filesystem from Debian's busybox-static: one static
# binary plus a link per applet, the few /etc files engines and `id` read,
# and the static helpers the tests run inside containers.
set -eu
dest=${1:?usage: mkrootfs.sh DEST}
bb=/bin/busybox
[ -x "$bb" ] || { echo "mkrootfs: $bb not found: apt-get install busybox-static" >&2; exit 1; }
file -L "$bb" 2>/dev/null | grep -q 'statically linked' || ldd "$bb" 2>&1 | grep -q 'not a dynamic' || {
	echo "mkrootfs: $bb is not static: apt-get install busybox-static" >&2; exit 1; }
rm -rf "$dest.tmp"
mkdir -p "$dest.tmp/bin" "$dest.tmp/etc" "$dest.tmp/proc" "$dest.tmp/sys" "$dest.tmp/dev" "$dest.tmp/tmp" "$dest.tmp/root"
cp "$bb" "$dest.tmp/bin/busybox"
for applet in $("$bb" --list); do
	[ "$applet" = busybox ] || ln -s busybox "$dest.tmp/bin/$applet"
done
ln -s bin "$dest.tmp/sbin"
mkdir -p "$dest.tmp/usr"
ln -s ../bin "$dest.tmp/usr/bin"
ln -s ../bin "$dest.tmp/usr/sbin"
chmod 1777 "$dest.tmp/tmp"
# Test helpers busybox lacks, static like it.
gcc -static -O2 -o "$dest.tmp/bin/sd-notify" "$(dirname "$0")/sd-notify.c"
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' > "$dest.tmp/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' > "$dest.tmp/etc/group"
rm -rf "$dest"
mv "$dest.tmp" "$dest"
