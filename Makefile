# scsipub-lio — top-level build.
#   make            build every C program (build/)
#   make deps       install the Debian 12 packages the build, lab and tests need
#   make test       unit tests (ASan+UBSan), a bounded fuzz run, then the lab tests (QEMU VM)
#   make run        run the service (directly with LIO, else inside the lab VM)
#   make fuzz-smoke the bounded libFuzzer run of the login parser (part of make test)
#   make fuzz       the long libFuzzer run (FUZZ_RUNS executions, default 2 000 000)
#   make install    install the programs, the settings file, systemd units, sysusers.d
#                   and tmpfiles.d entries (PREFIX=/usr, DESTDIR for staging/packages)
#   make uninstall  remove what install put there (not the state, not a changed
#                   /etc/scsipub/scsipub.conf)
include mk/common.mk

COMPONENTS = common tcmu-handler configfs-manager tls-proxy pr-store api-server esp32

.PHONY: all tools deps test test-unit test-lab run clean fuzz fuzz-smoke install uninstall \
	$(COMPONENTS)

all: $(COMPONENTS)

# Order: every program links common (libscsipub.a); the portal links the manager
# library and the cow_config module.
tcmu-handler: common
configfs-manager: common tcmu-handler
tls-proxy: configfs-manager tcmu-handler
pr-store: configfs-manager tcmu-handler
api-server: configfs-manager tcmu-handler pr-store common
$(COMPONENTS):
	$(MAKE) -C $@

deps:
	@scripts/deps.sh

test:
	@scripts/run-tests.sh

test-unit:
	$(MAKE) -C tests/unit run

test-lab: all tools
	LAB=1 scripts/run-tests.sh

run:
	scripts/run-service.sh

# libFuzzer harnesses, built with clang into build/fuzz (tests/fuzz/Makefile).
fuzz fuzz-smoke:
	$(MAKE) -C tests/fuzz $@

# Test clients used by the lab tests (libiscsi; login-flood: raw sockets; login-time:
# libiscsi login latency for bench-perf.sh; clock-check: the guest clock across vCPUs).
tools: $(BUILD)/tools/iscsi-pattern $(BUILD)/tools/login-flood $(BUILD)/tools/login-time \
	$(BUILD)/tools/session-ramp $(BUILD)/tools/clock-check
$(BUILD)/tools/iscsi-pattern: tests/lab/tools/iscsi-pattern.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $< -liscsi
# The tools read the clock with common/monotime.c, compiled in.
MONOTIME = common/monotime.c common/monotime.h
$(BUILD)/tools/login-flood: tests/lab/tools/login-flood.c $(MONOTIME)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Icommon -o $@ $< common/monotime.c
$(BUILD)/tools/login-time: tests/lab/tools/login-time.c tests/lab/tools/latency.h $(MONOTIME)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Icommon -o $@ $< common/monotime.c -liscsi -pthread
$(BUILD)/tools/session-ramp: tests/lab/tools/session-ramp.c tests/lab/tools/latency.h $(MONOTIME)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Icommon -o $@ $< common/monotime.c -liscsi -pthread
$(BUILD)/tools/clock-check: tests/lab/tools/clock-check.c $(MONOTIME)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Icommon -o $@ $< common/monotime.c -pthread

# ---- install ---------------------------------------------------------------------
# Debian 12 layout: units in /lib/systemd/system (systemd's systemdsystemunitdir),
# sysusers.d and tmpfiles.d under /usr/lib. scsipub-cfgd is installed once it is built.
PREFIX      ?= /usr
sbindir     ?= $(PREFIX)/sbin
datadir     ?= $(PREFIX)/share
sysconfdir  ?= /etc
unitdir     ?= /lib/systemd/system
sysusersdir ?= $(PREFIX)/lib/sysusers.d
tmpfilesdir ?= $(PREFIX)/lib/tmpfiles.d
dbusdir     ?= $(datadir)/dbus-1/system.d
docdir      ?= $(datadir)/doc/scsipub
mandir      ?= $(datadir)/man
libexecdir  ?= $(PREFIX)/lib/scsipub
INSTALL     ?= install
DAEMONS      = tcmu-handler/scsipub-tcmu tls-proxy/scsipub-portal api-server/scsipub-api \
               pr-store/scsipub-prstore configfs-manager/scsipub-ctl \
               $(if $(wildcard $(BUILD)/configfs-manager/scsipub-cfgd),configfs-manager/scsipub-cfgd)
MAN8         = $(addsuffix .8,$(notdir $(DAEMONS)))
UNITS        = $(notdir $(wildcard dist/systemd/*.service dist/systemd/*.target))

install: all
	$(INSTALL) -d $(DESTDIR)$(sbindir) $(DESTDIR)$(unitdir) $(DESTDIR)$(sysusersdir) \
		$(DESTDIR)$(tmpfilesdir) $(DESTDIR)$(dbusdir) $(DESTDIR)$(docdir) \
		$(DESTDIR)$(sysconfdir)/scsipub $(DESTDIR)$(mandir)/man5 $(DESTDIR)$(mandir)/man8
	$(INSTALL) -m 0755 $(addprefix $(BUILD)/,$(DAEMONS)) $(DESTDIR)$(sbindir)/
	@# the API's image decoder program (fetch.h), started by scsipub-api only
	$(INSTALL) -d $(DESTDIR)$(libexecdir)
	$(INSTALL) -m 0755 $(BUILD)/api-server/scsipub-unpack $(DESTDIR)$(libexecdir)/
	$(INSTALL) -m 0644 $(addprefix dist/systemd/,$(UNITS)) $(DESTDIR)$(unitdir)/
	$(INSTALL) -m 0644 dist/scsipub.sysusers $(DESTDIR)$(sysusersdir)/scsipub.conf
	$(INSTALL) -m 0644 dist/scsipub.tmpfiles $(DESTDIR)$(tmpfilesdir)/scsipub.conf
	$(INSTALL) -m 0644 dist/dbus/scsipub-tcmu.conf $(DESTDIR)$(dbusdir)/
	$(INSTALL) -m 0644 README.md $(DESTDIR)$(docdir)/
	$(INSTALL) -m 0644 $(addprefix dist/man/,$(MAN8)) $(DESTDIR)$(mandir)/man8/
	$(INSTALL) -m 0644 dist/man/scsipub.conf.5 $(DESTDIR)$(mandir)/man5/
	@# never overwrite an operator's settings
	test -e $(DESTDIR)$(sysconfdir)/scsipub/scsipub.conf || \
		$(INSTALL) -m 0644 dist/scsipub.conf $(DESTDIR)$(sysconfdir)/scsipub/scsipub.conf
	@# a real install (no DESTDIR): make the user and the directories, tell systemd
	if [ -z "$(DESTDIR)" ] && command -v systemd-sysusers >/dev/null; then \
		systemd-sysusers $(sysusersdir)/scsipub.conf && \
		systemd-tmpfiles --create $(tmpfilesdir)/scsipub.conf; \
		if [ -d /run/systemd/system ]; then systemctl daemon-reload; fi; \
	fi

uninstall:
	rm -f $(addprefix $(DESTDIR)$(sbindir)/,$(notdir $(DAEMONS)) scsipub-cfgd)
	rm -f $(DESTDIR)$(libexecdir)/scsipub-unpack
	-rmdir $(DESTDIR)$(libexecdir) 2>/dev/null
	rm -f $(addprefix $(DESTDIR)$(unitdir)/,$(UNITS))
	rm -f $(DESTDIR)$(sysusersdir)/scsipub.conf $(DESTDIR)$(tmpfilesdir)/scsipub.conf
	rm -f $(DESTDIR)$(dbusdir)/scsipub-tcmu.conf $(DESTDIR)$(docdir)/README.md
	rm -f $(addprefix $(DESTDIR)$(mandir)/man8/,$(MAN8) scsipub-cfgd.8) \
		$(DESTDIR)$(mandir)/man5/scsipub.conf.5
	-rmdir $(DESTDIR)$(docdir) 2>/dev/null
	@# the settings file goes only when it is still the shipped one
	if cmp -s dist/scsipub.conf $(DESTDIR)$(sysconfdir)/scsipub/scsipub.conf; then \
		rm -f $(DESTDIR)$(sysconfdir)/scsipub/scsipub.conf; \
		rmdir $(DESTDIR)$(sysconfdir)/scsipub 2>/dev/null || true; \
	else echo "uninstall: keeping $(DESTDIR)$(sysconfdir)/scsipub/scsipub.conf (changed)"; fi
	if [ -z "$(DESTDIR)" ] && [ -d /run/systemd/system ]; then systemctl daemon-reload; fi

clean:
	rm -rf build
