# berth: build, test, demo and benchmark. Run as root on Debian 12.

PREFIX      ?= /usr/local
CARGO       ?= cargo
RELEASE     := target/x86_64-unknown-linux-gnu/release/berth
DEBUG       := target/x86_64-unknown-linux-gnu/debug/berth
ROOTFS      := target/test-rootfs
SUBREAPER   := target/subreaper
DEMO        := target/demo-bundle
SHARED      ?= ../shared
APT_BUILD   := busybox-static gcc libc6-dev libseccomp-dev
# qemu and mmdebstrap: the pure cgroup v2 and systemd VMs (tests/vm/);
# uidmap (newuidmap, newgidmap): the rootless tests; runc, the CNI plugins
# and protoc (the CRI client's build): the Kubernetes stage.
APT_TEST    := $(APT_BUILD) podman containerd qemu-system-x86 mmdebstrap e2fsprogs xz-utils uidmap \
               runc containernetworking-plugins protobuf-compiler
# docker.io is unpacked, not installed: its service scripts stay out.
DOCKER_DIR  := /var/tmp/berth-cache/docker.io
APT_BENCH   := runc crun jq hyperfine busybox-static
APT_PEERS   := runc crun

.PHONY: all build install test lint demo bench conformance conformance-peers compat-peers cve-peers deps-peers engines k8s vm deps deps-build deps-bench clean fuzz

all: build

build:
	$(CARGO) build --release

# The man pages are build.rs's, in the OUT_DIR cargo names for this very
# build; the completion scripts are what the binary prints.
install: build
	install -D -m 0755 $(RELEASE) $(PREFIX)/bin/berth
	out=$$($(CARGO) build --release --message-format=json 2>/dev/null \
		| grep -o '"out_dir":"[^"]*/build/berth-[0-9a-f]*/out"' | tail -1 | cut -d'"' -f4); \
		test -n "$$out" && install -d $(PREFIX)/share/man/man8 && install -m 0644 $$out/man/*.8 $(PREFIX)/share/man/man8/
	install -d $(PREFIX)/share/bash-completion/completions $(PREFIX)/share/zsh/site-functions \
		$(PREFIX)/share/fish/vendor_completions.d
	$(RELEASE) completion bash > $(PREFIX)/share/bash-completion/completions/berth
	$(RELEASE) completion zsh > $(PREFIX)/share/zsh/site-functions/_berth
	$(RELEASE) completion fish > $(PREFIX)/share/fish/vendor_completions.d/berth.fish

# What building berth and the demo bundle need; installed only when missing.
deps-build:
	@missing=""; for p in $(APT_BUILD); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
		echo "installing:$$missing"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	fi

# Debian packages the tests need (the engines too); installed only when missing.
deps:
	@missing=""; for p in $(APT_TEST); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
		echo "installing:$$missing"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	fi
	@if [ ! -x $(DOCKER_DIR)/usr/sbin/dockerd ]; then \
		rm -rf $(DOCKER_DIR).tmp && mkdir -p $(DOCKER_DIR).tmp && cd $(DOCKER_DIR).tmp && \
		(apt-get download docker.io >/dev/null 2>&1 || (apt-get update -qq && apt-get download docker.io >/dev/null)) && \
		dpkg-deb -x docker.io_*.deb . && rm -f docker.io_*.deb && cd / && \
		rm -rf $(DOCKER_DIR) && mv $(DOCKER_DIR).tmp $(DOCKER_DIR) && echo "unpacked docker.io in $(DOCKER_DIR)"; \
	fi

$(ROOTFS)/bin/busybox: tests/mkrootfs.sh tests/sd-notify.c | deps-build
	sh tests/mkrootfs.sh $(ROOTFS)

$(SUBREAPER): tests/subreaper.c | deps-build
	@mkdir -p target
	gcc -O2 -Wall -o $@ $<

lint:
	$(CARGO) fmt --all --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings
	$(CARGO) fmt --manifest-path $(K8S_CRATE) --check
	$(CARGO) clippy --manifest-path $(K8S_CRATE) --target-dir target --all-targets -- -D warnings

# The whole suite: style, unit tests, and integration tests that run the
# real binary as root on busybox bundles, under a subreaper as engines run
# runtimes (orphaned container inits are reaped at once).
# Each stage says how long it took: CI has 30 minutes for all of them.
timed = s=$$(date +%s); $(2); rc=$$?; echo "== stage $(1): $$(( $$(date +%s) - s )) s, rc $$rc"; exit $$rc

test: $(ROOTFS)/bin/busybox $(SUBREAPER)
	@$(call timed,lint,$(MAKE) --no-print-directory lint)
	@$(call timed,cargo test,BERTH_TEST_ROOTFS=$(CURDIR)/$(ROOTFS) $(SUBREAPER) $(CARGO) test)
	@$(call timed,conformance,$(MAKE) --no-print-directory conformance)
	@$(call timed,engines,$(MAKE) --no-print-directory engines)
	@$(call timed,k8s,$(MAKE) --no-print-directory k8s)
	@$(call timed,cve-peers,$(MAKE) --no-print-directory cve-peers)
	@$(call timed,vm,$(MAKE) --no-print-directory vm)
	@$(call timed,fuzz,$(MAKE) --no-print-directory fuzz FUZZ_SECONDS=30)

# conformance/: oci-check inside the container checks every config field
# it was started with; RUNTIME=runc (or crun, ...) runs the same suite on
# another runtime, PRELOAD=/abs/lib.so with LD_PRELOAD set for it.
RUNTIME ?= $(CURDIR)/$(DEBUG)
PRELOAD ?=
CONFORMANCE := target/x86_64-unknown-linux-gnu/debug/oci-conformance
conformance: $(ROOTFS)/bin/busybox $(SUBREAPER)
	$(CARGO) build --workspace
	$(SUBREAPER) $(CONFORMANCE) --runtime $(RUNTIME) --rootfs $(ROOTFS) $(if $(PRELOAD),--preload $(PRELOAD))

# crun 1.8.1 refuses this hybrid host before reading any flag; the shim
# from $(SHARED)/tools makes the v2 controller list read empty for it.
CRUN_SHIM := target/crun-hybrid-shim.so
$(CRUN_SHIM): $(SHARED)/tools/crun-hybrid-shim.c | deps-build
	@mkdir -p target
	gcc -O2 -Wall -shared -fPIC -o $@ $< -ldl

deps-peers:
	@missing=""; for p in $(APT_PEERS); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
		echo "installing:$$missing"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	fi

# The same suite on runc and crun, for conformance/README.md's table of
# where they differ; their failures do not fail make.
conformance-peers: $(ROOTFS)/bin/busybox $(SUBREAPER) $(CRUN_SHIM) | deps-peers
	$(CARGO) build --workspace
	-$(SUBREAPER) $(CONFORMANCE) --runtime /usr/sbin/runc --rootfs $(ROOTFS)
	-$(SUBREAPER) $(CONFORMANCE) --runtime /usr/bin/crun --preload $(CURDIR)/$(CRUN_SHIM) --rootfs $(ROOTFS)

# The tests of what outside suites found (issue 15) on berth, runc and
# crun, for target/compat-peers/table.md: who else gets each behaviour
# right. Fails only where berth fails (tests/compat-peers.sh).
compat-peers: $(ROOTFS)/bin/busybox $(SUBREAPER) $(CRUN_SHIM) | deps-peers
	CARGO="$(CARGO)" BERTH_TEST_ROOTFS=$(CURDIR)/$(ROOTFS) bash tests/compat-peers.sh $(CRUN_SHIM)

# The CVE regression tests on berth, runc, crun and berth before issue
# 12's fixes (built from that commit) (tests/cve-peers.sh): fails unless
# each peer fails exactly the tests of the fixes it lacks, with the
# attack's effect, and berth passes all (part of test).
cve-peers: $(ROOTFS)/bin/busybox $(SUBREAPER) $(CRUN_SHIM) | deps-peers
	CARGO="$(CARGO)" BERTH_TEST_ROOTFS=$(CURDIR)/$(ROOTFS) bash tests/cve-peers.sh $(CRUN_SHIM)

# Fuzzing (fuzz/, a workspace of its own): config.json bytes through parse
# and validate, structured seccomp profiles through the compiler (the
# ENOSYS prologue checked by an interpreter), and the parent/init messages
# (frame by frame over a real socket pair) and state.json through their
# parsers, FUZZ_SECONDS each under
# libFuzzer with bounded memory. Crashes land in fuzz/artifacts/, beside
# each run's log (less berth's warnings: unknown syscall names are common
# here), whose end a failure prints. cargo-fuzz comes from crates.io.
# Stable Rust is enough: no sanitizer (berth's unsafe is small), and
# libFuzzer's coverage flags are all stable.
FUZZ_SECONDS ?= 60
FUZZ_RSS_MB  ?= 2048
FUZZ_TARGETS := config seccomp protocol
fuzz:
	@command -v cargo-fuzz >/dev/null 2>&1 || $(CARGO) install cargo-fuzz --locked
	$(CARGO) fuzz build --sanitizer none
	@for t in $(FUZZ_TARGETS); do \
		mkdir -p fuzz/corpus/$$t; \
		seeds=; [ -d fuzz/seeds/$$t ] && seeds=fuzz/seeds/$$t; \
		dict=; [ -f fuzz/$$t.dict ] && dict=-dict=fuzz/$$t.dict; \
		echo "fuzz: $$t for $(FUZZ_SECONDS)s, log in fuzz/artifacts/$$t.log"; \
		mkdir -p fuzz/artifacts; \
		{ $(CARGO) fuzz run --sanitizer none $$t fuzz/corpus/$$t $$seeds -- \
			-max_total_time=$(FUZZ_SECONDS) -rss_limit_mb=$(FUZZ_RSS_MB) -timeout=30 \
			$$dict 2>&1; echo $$? > fuzz/artifacts/$$t.rc; } \
			| grep -av '^berth: warning' > fuzz/artifacts/$$t.log; \
		if [ "$$(cat fuzz/artifacts/$$t.rc)" != 0 ]; then \
			echo "fuzz: $$t failed; the end of its log:"; tail -n 60 fuzz/artifacts/$$t.log; \
			ls -l fuzz/artifacts/$$t/; exit 1; \
		fi; \
		grep -a '^Done' fuzz/artifacts/$$t.log || true; \
	done

# Build berth, make a busybox bundle and run a container from it.
demo: deps-build build $(ROOTFS)/bin/busybox
	rm -rf $(DEMO) && mkdir -p $(DEMO)
	cp -a $(ROOTFS) $(DEMO)/rootfs
	$(RELEASE) spec --bundle $(DEMO)
	sed -i -e 's/"terminal": true/"terminal": false/' \
		-e 's|^\( *\)"sh"$$|\1"sh", "-c", "echo Hello from berth: I am pid $$$$ on $$(hostname), uid $$(id -u); ls /"|' \
		$(DEMO)/config.json
	$(RELEASE) run --bundle $(DEMO) berth-demo-$$$$

# Podman (as root, and rootless as the test user), containerd and Docker
# drive berth end to end
# (RUNTIME=/usr/sbin/runc runs the same scenarios on runc).
engines: $(ROOTFS)/bin/busybox | deps
	$(CARGO) build
	bash tests/engines/podman.sh $(RUNTIME) $(CURDIR)/$(ROOTFS)
	bash tests/engines/podman-rootless.sh $(RUNTIME) $(CURDIR)/$(ROOTFS)
	bash tests/engines/docker.sh $(RUNTIME) $(CURDIR)/$(ROOTFS) $(DOCKER_DIR)

# Kubernetes' path: containerd's CRI plugin runs a pod through a berth
# runtime handler as the kubelet would (tests/k8s/), then through runc as
# the control; prints the exec probe latency of both.
CRI_POD := target/x86_64-unknown-linux-gnu/debug/cri-pod
# A workspace of its own (see Cargo.toml); built into berth's target dir.
K8S_CRATE := tests/k8s/Cargo.toml
k8s: $(ROOTFS)/bin/busybox | deps
	$(CARGO) build -p berth
	$(CARGO) build --manifest-path $(K8S_CRATE) --target-dir target
	bash tests/k8s/run.sh $(CURDIR)/$(DEBUG) $(CURDIR)/$(ROOTFS) $(CURDIR)/$(CRI_POD)

# The layouts this host lacks: the integration tests again in a VM whose
# only cgroup hierarchy is v2; then under systemd as PID 1 (pure v2), with
# the systemd cgroup driver's check (tests/vm/systemd-check.sh) and the
# rootless tests with delegated cgroup v2 limits and CRIU's checkpoint and
# restore; then that check again on systemd's hybrid layout; then a short
# boot with SELinux on (Debian's reference policy, permissive) for the
# SELinux labels. Debian's kernel and the systemd image are cached in
# /var/tmp/berth-vm.
VM_TESTS := cgroups cgroup_commands lifecycle config mounts exec errors console seccomp check check_bundle
vm: $(ROOTFS)/bin/busybox | deps
	bash tests/vm/vm.sh kernel
	bash tests/vm/run-tests.sh $(VM_TESTS)
	bash tests/vm/vm.sh image
	BERTH_EXPECT_CRIU=1 bash tests/vm/run-tests.sh --systemd cgroups cgroup_commands exec config rootless checkpoint check check_bundle
	BERTH_VM_APPEND=systemd.unified_cgroup_hierarchy=0 bash tests/vm/run-tests.sh --systemd
	BERTH_VM_APPEND="security=selinux selinux=1 enforcing=0" BERTH_VM_ONLY=selinux BERTH_EXPECT_SELINUX=1 \
		bash tests/vm/run-tests.sh --systemd config check

deps-bench:
	@missing=""; for p in $(APT_BENCH); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
		echo "installing:$$missing"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	fi

# berth beside runc and crun in one interleaved run (tests/bench.sh).
bench: deps-bench build $(ROOTFS)/bin/busybox
	sh tests/bench.sh $(CURDIR)/$(RELEASE) $(CURDIR)/$(ROOTFS) $(SHARED)/tools/peer-bench.sh

clean:
	$(CARGO) clean
