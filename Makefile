# scsipub-lio — top-level build.
#   make            build every C program (build/)
#   make deps       install the Debian 12 packages the build, lab and tests need
#   make test       unit tests (ASan+UBSan) then the lab integration tests (QEMU VM)
#   make run        run the service (directly with LIO, else inside the lab VM)
include mk/common.mk

COMPONENTS = tcmu-handler configfs-manager tls-proxy pr-store api-server

.PHONY: all tools deps test test-unit test-lab run clean $(COMPONENTS)

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

# Test clients used by the lab tests (libiscsi).
tools: $(BUILD)/tools/iscsi-pattern
$(BUILD)/tools/iscsi-pattern: tests/lab/tools/iscsi-pattern.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $< -liscsi

clean:
	rm -rf build
