# hako — build, demo, test, bench, install. Every target installs what it needs on a
# fresh Debian 12 machine (run as root).

SHELL := /bin/bash
PREFIX ?= /usr/local
CARGO ?= cargo
DEB_PACKAGES := busybox-static gcc libc6-dev linux-libc-dev openssh-client iproute2 util-linux procps psmisc kmod file dnsmasq-base nftables lxc-templates mmdebstrap debootstrap btrfs-progs apparmor uidmap golang-go runc
BENCH_PACKAGES := lxc lxc-templates hyperfine runc crun
STATIC_TARGET := x86_64-unknown-linux-gnu
STATIC_BIN := target/static/$(STATIC_TARGET)/release/hako
# What is installed, demonstrated and benchmarked: the hako CLI linked statically (static-pie:
# no dynamic loader and relocation work at each of its many short runs, ~1 ms each, with ASLR
# kept), next to the dynamically linked hako-monitor (resident for a container's whole life:
# it shares libc's pages with the rest of the system) and hako-user-nic, the small setuid-root
# network helper for rootless containers (dynamically linked: the user database's NSS
# modules work, and the dynamic loader's secure mode is what every setuid program relies on).
# The tests use cargo's own build of the same code.
DIST := target/dist
RELEASE_BIN := $(DIST)/hako

.PHONY: all build deps demo test unit-test integration-test vm-test bench bench-network bench-debian install uninstall compat-links clean fmt lint

all: build

deps:
	@./scripts/deps.sh $(DEB_PACKAGES)

build: deps
	$(CARGO) build --release -p hako
	RUSTFLAGS="-C target-feature=+crt-static" CARGO_TARGET_DIR=target/static \
		$(CARGO) build --release --target $(STATIC_TARGET) -p hako
	install -D -m 0755 $(STATIC_BIN) $(DIST)/hako
	install -D -m 0755 target/release/hako-monitor $(DIST)/hako-monitor
	install -D -m 0755 target/release/hako-user-nic $(DIST)/hako-user-nic

demo: build
	@./scripts/demo.sh $(RELEASE_BIN)

# the README's test command: unit tests, root integration tests, the pure cgroup v2 VM test
test: deps
	$(CARGO) build --release -p hako
	HAKO_TESTS_REQUIRE_ROOT=1 HAKO_TESTS_REQUIRE_MIRROR=1 $(CARGO) test --workspace --release --no-fail-fast -- --test-threads=2
	$(MAKE) vm-test

unit-test:
	$(CARGO) test --workspace --lib

vm-test: deps
	./tests/vm/setup.sh
	RUSTFLAGS="-C target-feature=+crt-static" CARGO_TARGET_DIR=target/static \
		$(CARGO) build --release --target $(STATIC_TARGET) -p hako
	./tests/vm/run.sh $(STATIC_BIN)

bench: build
	@./scripts/deps.sh $(BENCH_PACKAGES)
	./bench/run.sh $(RELEASE_BIN)

# issue 3's figures: veth start+stop and DHCP next to LXC, 100 concurrent containers
bench-network: build
	@./scripts/deps.sh $(BENCH_PACKAGES)
	./bench/network.sh

# issue 4's figures: the debian template next to LXC's (cold and warm create, boot, stop, clone)
bench-debian: build
	@./scripts/deps.sh $(BENCH_PACKAGES) jq rsync debootstrap mmdebstrap
	./bench/debian.sh $(RELEASE_BIN)

install: build
	install -D -m 0755 $(DIST)/hako $(DESTDIR)$(PREFIX)/bin/hako
	install -D -m 0755 $(DIST)/hako-monitor $(DESTDIR)$(PREFIX)/bin/hako-monitor
	$(DESTDIR)$(PREFIX)/bin/hako compat-links $(DESTDIR)$(PREFIX)/bin
	@# the OCI runtime face (runc's command line): hako called as hako-oci
	ln -sfn hako $(DESTDIR)$(PREFIX)/bin/hako-oci
	@# the network helper of rootless containers: setuid root (the only hako program that is;
	@# it needs a file system mounted without nosuid), also answering as lxc-user-nic
	install -D -o root -g root -m 4755 $(DIST)/hako-user-nic $(DESTDIR)$(PREFIX)/bin/hako-user-nic
	ln -sfn $(PREFIX)/bin/hako-user-nic $(DESTDIR)$(PREFIX)/bin/lxc-user-nic
	@# the default config: new containers join the managed network hakobr0 (kept if present)
	[ -e $(DESTDIR)/etc/hako/default.conf ] || install -D -m 0644 contrib/default.conf $(DESTDIR)/etc/hako/default.conf

uninstall:
	rm -f $(DESTDIR)$(PREFIX)/bin/hako $(DESTDIR)$(PREFIX)/bin/hako-monitor $(DESTDIR)$(PREFIX)/bin/hako-user-nic
	[ -L $(DESTDIR)$(PREFIX)/bin/hako-oci ] && rm -f $(DESTDIR)$(PREFIX)/bin/hako-oci; true
	l=$(DESTDIR)$(PREFIX)/bin/lxc-user-nic; [ -L "$$l" ] && [ "$$(readlink "$$l")" = "$(PREFIX)/bin/hako-user-nic" ] && rm -f "$$l"; true
	for l in $(DESTDIR)$(PREFIX)/bin/lxc-*; do \
		[ -L "$$l" ] && [ "$$(readlink "$$l")" = "$(PREFIX)/bin/hako" ] && rm -f "$$l"; done; true

fmt:
	$(CARGO) fmt --all

lint:
	$(CARGO) clippy --workspace --all-targets -- -D warnings

clean:
	$(CARGO) clean
