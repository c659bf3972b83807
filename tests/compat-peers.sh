#!/bin/bash
# compat-peers.sh CRUN_SHIM : the tests of what outside suites found
# (issue 15) on berth, then on Debian's runc and crun through the same
# runc command line (BERTH_TEST_RUNTIME, tests/common/mod.rs), for the
# table of who else gets each behaviour right. berth must pass them all;
# a peer's failure is recorded, not fatal: where runc or crun differ, the
# table says so and README's differences say why berth follows the spec
# or runc. The table goes to target/compat-peers/table.md, each run's log
# beside it.
set -uo pipefail
cd "$(dirname "$0")/.."
CARGO=${CARGO:-cargo}
SHIM=${1:?usage: compat-peers.sh CRUN_SHIM}
SUBREAPER=target/subreaper
OUT=target/compat-peers
export BERTH_TEST_ROOTFS=${BERTH_TEST_ROOTFS:-$(pwd)/target/test-rootfs}

# file test | what it shows
TESTS="
cgroup_commands a_device_allowed_read_only_stays_read_only_and_update_replaces_the_rules|device rules exactly as configured, update replaces them
cgroups a_cgroup_frozen_before_create_fails_run_instead_of_hanging|a frozen cgroup fails run instead of hanging
cgroup_commands update_takes_negative_values_and_lifts_a_memory_limit|update takes -1 and lifts a memory limit under memsw
cgroups a_cgroup_below_an_empty_cpuset_parent_gets_cpus_from_above|an empty pod cpuset is filled from above
cgroup_commands cpu_period_and_quota_fit_under_a_parents_quota|period and quota under a parent's quota
checkpoint a_bad_parent_path_is_refused_before_anything_is_done|--parent-path checked first, nothing left
config scheduler_flags_take_the_specs_names|scheduler flags by the spec's names
config no_pivot_leaves_no_bare_host_proc_or_sysfs_behind|--no-pivot hides the host's proc and sysfs
config a_new_network_namespace_has_its_loopback_up|loopback up in a new network namespace
config a_process_without_user_runs_as_root|no process.user runs as 0:0
config a_device_path_with_a_trailing_slash_is_the_device|a device path with a trailing slash
console the_terminal_belongs_to_the_processs_user_and_the_tty_group|the pty belongs to the user and the tty group
errors a_non_semver_version_and_a_non_capability_are_refused|non-SemVer ociVersion and CAP_TEST refused
errors hostname_sysctls_are_refused_for_the_fields|kernel.hostname/domainname sysctls refused
exec exec_cap_stays_with_the_process_and_is_not_inherited|exec --cap not inheritable nor ambient
exec an_exec_process_leads_its_own_session|an exec'd process leads its session
exec an_exec_process_gets_the_containers_personality|personality reaches exec'd processes
exec exec_into_a_created_container|exec into a created container
lifecycle hooks_run_in_order_with_the_state_on_stdin|create and start hooks read status created
lifecycle a_created_container_is_deleted_only_with_force|delete of a created container needs --force
lifecycle failing_poststart_destroys_the_container_and_poststop_only_warns|a failing poststart destroys the container
lifecycle kill_0_probes_whether_the_container_runs|kill 0 probes
lifecycle kill_ends_a_paused_container|SIGKILL ends a paused container
lifecycle hooks_of_a_stage_run_strictly_one_after_another|hooks of a stage run one after another
lifecycle kill_of_a_stopped_container_always_fails|kill of a stopped container fails
mounts a_tmpfs_without_mode_keeps_its_mount_points|a tmpfs keeps its mount point's mode
mounts proc_and_sysfs_on_a_symlink_in_the_image_are_refused|proc and sysfs on a symlink refused
mounts a_read_only_dev_still_gets_what_goes_below_it|a read-only /dev gets its mounts first
mounts recursive_mount_options_reach_every_submount|recursive mount options reach submounts
mounts an_unbindable_rootfs_propagation_goes_on_the_new_root|rootfsPropagation unbindable
mounts a_user_namespace_binds_sources_only_the_hosts_root_can_reach|user namespace: root-only bind sources, locked flags kept
mounts a_config_without_namespaces_shares_the_runtimes_and_leaves_no_mounts|no namespaces: runs, leaves no host mounts
mounts a_bind_over_the_root_replaces_the_image|a bind mount over the root
mounts a_destination_linked_to_the_root_is_the_root|a destination the image links to the root
mounts a_user_namespace_bind_never_follows_a_planted_link_as_the_hosts_root|user namespace: a planted link in a bind source
newest an_idmapped_bind_follows_a_symlink_source|an idmapped bind of a symlink source
"

mkdir -p "$OUT"
$CARGO build || exit 1
files=$(echo "$TESTS" | awk 'NF {print $1}' | sort -u)
args=()
for f in $files; do args+=(--test "$f"); done
$CARGO test --no-run "${args[@]}" || exit 1

# run NAME BINARY [PRELOAD] : one column of results, one word per test.
run() {
	local name=$1 bin=$2 preload=${3:-}
	while IFS='|' read -r ft _; do
		[ -z "$ft" ] && continue
		set -- $ft
		local log="$OUT/$name-$2.log"
		if BERTH_TEST_RUNTIME=$bin BERTH_TEST_RUNTIME_PRELOAD=$preload \
			timeout 300 $SUBREAPER $CARGO test -q --test "$1" -- --exact "$2" >"$log" 2>&1; then
			echo pass
		else
			echo FAIL
		fi
	done <<<"$TESTS"
}

berth=$(pwd)/target/x86_64-unknown-linux-gnu/debug/berth
mapfile -t B < <(run berth "$berth")
runc_v=$(dpkg-query -W -f '${Version}' runc 2>/dev/null || echo "?")
crun_v=$(dpkg-query -W -f '${Version}' crun 2>/dev/null || echo "?")
mapfile -t R < <(run runc /usr/sbin/runc)
mapfile -t C < <(run crun /usr/bin/crun "$(pwd)/$SHIM")

{
	echo "| behaviour | test | berth | runc $runc_v | crun $crun_v |"
	echo "|---|---|---|---|---|"
	i=0
	while IFS='|' read -r ft what; do
		[ -z "$ft" ] && continue
		set -- $ft
		echo "| $what | $1::$2 | ${B[$i]} | ${R[$i]} | ${C[$i]} |"
		i=$((i + 1))
	done <<<"$TESTS"
} >"$OUT/table.md"
cat "$OUT/table.md"
failed=$(printf '%s\n' "${B[@]}" | grep -c FAIL)
if [ "$failed" -ne 0 ]; then
	echo "compat-peers: berth fails $failed of its own tests (logs in $OUT)" >&2
	exit 1
fi
