# scsipub-lio — top-level build.
#   make            build every C program (build/)
#   make deps       install the Debian 12 packages the build, lab and tests need
#   make test       unit tests (ASan+UBSan), a bounded fuzz run, then the lab tests (QEMU VM)
#   make run        run the service (directly with LIO, else inside the lab VM)
#   make fuzz-smoke the bounded libFuzzer run of the login parser (part of make test)
#   make fuzz       the long libFuzzer run (FUZZ_RUNS executions, default 2 000 000)
include mk/common.mk

COMPONENTS = tcmu-handler configfs-manager tls-proxy pr-store api-server esp32

.PHONY: all tools deps test test-unit test-lab run clean fuzz fuzz-smoke $(COMPONENTS)

all: $(COMPONENTS)

# Order: the portal links the manager library and the cow_config module.
tls-proxy: configfs-manager tcmu-handler
pr-store: configfs-manager tcmu-handler
api-server: configfs-manager tcmu-handler tls-proxy pr-store
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

# Test clients used by the lab tests (libiscsi; login-flood: raw sockets).
tools: $(BUILD)/tools/iscsi-pattern $(BUILD)/tools/login-flood
$(BUILD)/tools/iscsi-pattern: tests/lab/tools/iscsi-pattern.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $< -liscsi
$(BUILD)/tools/login-flood: tests/lab/tools/login-flood.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $<

clean:
	rm -rf build
