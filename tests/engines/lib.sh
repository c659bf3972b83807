# Sourced by the engine scripts: counted checks, and the scenarios Podman
# runs alike as root and rootless. The caller sets pass=0 fail=0, and P,
# the podman command line, before podman_signals.

check() { # check NAME EXPECTED ACTUAL
	if [ "$2" = "$3" ]; then
		pass=$((pass + 1)); echo "ok - $1"
	else
		fail=$((fail + 1)); echo "not ok - $1: expected [$2], got [$3]"
	fi
}
contains() { # contains NAME NEEDLE HAYSTACK
	case "$3" in *"$2"*) check "$1" x x ;; *) check "$1" "...$2..." "$3" ;; esac
}

# kill delivers the signal the program traps; rm -f ends a running one;
# nothing is left in any cgroup hierarchy.
podman_signals() {
	"${P[@]}" run -d --name c2 --network none localhost/berth-bb:latest sh -c 'trap "exit 3" TERM; while :; do sleep 0.1; done' >/dev/null
	sleep 0.3
	"${P[@]}" kill -s TERM c2 >/dev/null; "${P[@]}" wait c2 >/dev/null
	check "kill delivers the signal" "3" "$("${P[@]}" inspect -f '{{.State.ExitCode}}' c2)"
	"${P[@]}" rm -f c2 >/dev/null
	"${P[@]}" run -d --name c3 --network none localhost/berth-bb:latest sleep 1000 >/dev/null
	"${P[@]}" rm -f c3 >/dev/null
	check "rm -f of a running container" "" "$("${P[@]}" ps -aq -f name=c3)"
	local leftovers
	leftovers=$(find /sys/fs/cgroup -maxdepth 3 -name 'libpod-*' 2>/dev/null | head -3)
	check "no cgroups left" "" "$leftovers"
}
