# fencefs -- plain GNU make with pkg-config.
#
# Targets: all test check install uninstall demo bench fuzz clean
# Variables: PREFIX DESTDIR CFLAGS LDFLAGS BUILD (output directory) SAN=1
# (ASan+UBSan build).  User CFLAGS are appended after ours so they win.

PREFIX    ?= /usr/local
BINDIR    ?= $(PREFIX)/bin
DATADIR   ?= $(PREFIX)/share
MANDIR    ?= $(DATADIR)/man
PRESETDIR ?= $(DATADIR)/fencefs/presets
BUILD     ?= build
CC        ?= cc
PKG_CONFIG ?= pkg-config
VERSION   := 0.1.0

# Modules are looked up lazily so that `make clean` works before the
# dependencies are installed.
pc_cflags = $(shell $(PKG_CONFIG) --cflags $(1) 2>/dev/null)
pc_libs   = $(shell $(PKG_CONFIG) --libs $(1) 2>/dev/null)

WARN      := -Wall -Wextra -Wshadow -Wformat=2 -Wno-unused-parameter \
             -Wmissing-prototypes -Wstrict-prototypes
BASE_CFLAGS := -std=gnu11 -O2 -g -D_GNU_SOURCE -D_FILE_OFFSET_BITS=64 \
             -fno-strict-aliasing -MMD -MP $(WARN) \
             -DFENCE_VERSION='"$(VERSION)"' -DFENCE_PRESETDIR='"$(PRESETDIR)"' \
             -DFENCE_BINDIR='"$(BINDIR)"' -DFENCE_SRCDIR='"$(CURDIR)"' \
             -DFENCE_BUILDDIR='"$(abspath $(BUILD))"' -Ipolicy -Icommon
ifeq ($(SAN),1)
BASE_CFLAGS += -fsanitize=address,undefined -fno-omit-frame-pointer -O1
SAN_LDFLAGS := -fsanitize=address,undefined
endif
ifeq ($(WERROR),1)
BASE_CFLAGS += -Werror
endif

ALL_CFLAGS  = $(BASE_CFLAGS) $(CFLAGS)
ALL_LDFLAGS = $(SAN_LDFLAGS) $(LDFLAGS)

POLICY_SRC := $(wildcard policy/*.c)
COMMON_SRC := $(wildcard common/*.c)
FUSEFS_SRC := $(wildcard fusefs/*.c)
LAUNCH_SRC := $(wildcard launcher/*.c)
UNIT_SRC   := $(wildcard tests/unit/test_*.c)
PROBE_SRC  := $(wildcard tests/probes/*.c tests/security/*.c)

POLICY_OBJ := $(POLICY_SRC:%.c=$(BUILD)/%.o)
COMMON_OBJ := $(COMMON_SRC:%.c=$(BUILD)/%.o)
FUSEFS_OBJ := $(FUSEFS_SRC:%.c=$(BUILD)/%.o)
LAUNCH_OBJ := $(LAUNCH_SRC:%.c=$(BUILD)/%.o)
UNIT_BIN   := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)
PROBE_BIN  := $(patsubst %.c,$(BUILD)/%,$(PROBE_SRC))

LIBPOLICY := $(BUILD)/libpolicy.a
LIBCOMMON := $(BUILD)/libcommon.a
FENCEFS   := $(BUILD)/fencefs
FENCERUN  := $(BUILD)/fence-run

POLICY_LIBS := $(call pc_libs,libpcre2-8 inih)
FUSE_LIBS   := $(call pc_libs,fuse3) -lpthread
SECCOMP_LIBS := $(call pc_libs,libseccomp)

.PHONY: all test check install uninstall demo example bench bench-policy fuzz clean deps unit probes lint-man

all: $(FENCEFS) $(FENCERUN)

$(BUILD)/policy/%.o: policy/%.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(call pc_cflags,libpcre2-8 inih) -c -o $@ $<

$(BUILD)/common/%.o: common/%.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(BUILD)/fusefs/%.o: fusefs/%.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -Ifusefs $(call pc_cflags,fuse3) -c -o $@ $<

$(BUILD)/launcher/%.o: launcher/%.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -Ilauncher $(call pc_cflags,libseccomp) -c -o $@ $<

$(LIBPOLICY): $(POLICY_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@ && $(AR) rcs $@ $^

$(LIBCOMMON): $(COMMON_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@ && $(AR) rcs $@ $^

$(FENCEFS): $(FUSEFS_OBJ) $(LIBCOMMON) $(LIBPOLICY)
	$(CC) $(ALL_CFLAGS) -o $@ $(FUSEFS_OBJ) $(LIBCOMMON) $(LIBPOLICY) \
		$(ALL_LDFLAGS) $(FUSE_LIBS) $(POLICY_LIBS)

$(FENCERUN): $(LAUNCH_OBJ) $(LIBCOMMON) $(LIBPOLICY)
	$(CC) $(ALL_CFLAGS) -o $@ $(LAUNCH_OBJ) $(LIBCOMMON) $(LIBPOLICY) \
		$(ALL_LDFLAGS) $(SECCOMP_LIBS) $(POLICY_LIBS) -lpthread

# Unit tests: one cmocka file per module, linked with the two libraries.
# tests/unit/test_launch*.c also link the launcher's objects and
# tests/unit/test_fs*.c the daemon's (both without their main.o).
$(BUILD)/tests/test_launch%: TEST_EXTRA_OBJ = $(filter-out %/main.o,$(LAUNCH_OBJ))
$(BUILD)/tests/test_fs%: TEST_EXTRA_OBJ = $(filter-out %/main.o,$(FUSEFS_OBJ))
# Explicit (not pattern) prerequisite lines: a pattern rule without a
# recipe would cancel the rule below instead of adding to it.
$(filter $(BUILD)/tests/test_launch%,$(UNIT_BIN)): $(filter-out %/main.o,$(LAUNCH_OBJ))
$(filter $(BUILD)/tests/test_fs%,$(UNIT_BIN)): $(filter-out %/main.o,$(FUSEFS_OBJ))
$(BUILD)/tests/test_%: tests/unit/test_%.c $(LIBCOMMON) $(LIBPOLICY)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -Ilauncher -Ifusefs $(call pc_cflags,cmocka libpcre2-8 inih fuse3) \
		-o $@ $< $(TEST_EXTRA_OBJ) $(LIBCOMMON) $(LIBPOLICY) $(ALL_LDFLAGS) \
		$(call pc_libs,cmocka) $(SECCOMP_LIBS) $(FUSE_LIBS) $(POLICY_LIBS) -lpthread

# Probes run inside the sandbox and poke at syscalls; they are built
# without sanitizers (ASan's own mappings and signals would confuse them).
$(BUILD)/tests/%: tests/%.c
	@mkdir -p $(dir $@)
	$(CC) -std=gnu11 -O1 -g -D_GNU_SOURCE -Wall -Wextra -Wno-unused-parameter \
		$(CFLAGS) -o $@ $< -lpthread

unit: $(UNIT_BIN)
probes: $(PROBE_BIN)

deps:
	@scripts/deps.sh build test

test: deps
	$(MAKE) all unit probes
	BUILD=$(BUILD) tests/run.sh

check: deps
	$(MAKE) BUILD=build-werror WERROR=1 all unit probes
	$(MAKE) BUILD=build-san SAN=1 WERROR=1 all unit probes
	@for py in python3 /usr/bin/python3; do if $$py -c "import mypy" 2>/dev/null; then cd sdk/python && $$py -m mypy && exit 0 || exit 1; fi; done; echo "check: no mypy (scripts/deps.sh test installs python3-mypy)"; exit 1
	BUILD=build-san tests/run.sh

lint-man:
	@for m in man/*.[1-8]; do groff -mdoc -ww -z $$m || exit 1; done

demo:
	@scripts/deps.sh build
	$(MAKE) all
	@scripts/demo.sh

# The Python SDK's example agent (examples/agent_loop.py) against this build.
example:
	@scripts/deps.sh build
	$(MAKE) all
	FENCE_BIN_DIR=$(abspath $(BUILD)) FENCE_PRESET_DIR=$(CURDIR)/presets \
		PYTHONPATH=$(CURDIR)/sdk/python/src python3 examples/agent_loop.py

bench:
	@scripts/deps.sh build bench
	$(MAKE) all
	@bench/run.sh

# The policy engine alone (bench/policy_bench.c): ns per decision.
bench-policy: $(BUILD)/bench/policy_bench
	FENCE_PRESET_DIR=$${FENCE_PRESET_DIR:-presets} $(BUILD)/bench/policy_bench

$(BUILD)/bench/policy_bench: bench/policy_bench.c $(LIBCOMMON) $(LIBPOLICY)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -o $@ $< $(LIBCOMMON) $(LIBPOLICY) $(ALL_LDFLAGS) $(POLICY_LIBS)

FUZZ_SRC := $(wildcard tests/fuzz/fuzz_*.c)
fuzz:
	@scripts/deps.sh build fuzz
	@mkdir -p $(BUILD)/fuzz
	@for f in $(FUZZ_SRC); do \
		n=$$(basename $$f .c); \
		clang -g -O1 -D_GNU_SOURCE -Ipolicy -Icommon -fsanitize=fuzzer,address,undefined \
			$$(pkg-config --cflags libpcre2-8 inih) -o $(BUILD)/fuzz/$$n $$f $(POLICY_SRC) \
			$$(pkg-config --libs libpcre2-8 inih) || exit 1; \
	done
	@echo "built: $(BUILD)/fuzz/*; run e.g. $(BUILD)/fuzz/fuzz_policy -max_total_time=1800 tests/fuzz/corpus"
	@for f in $(BUILD)/fuzz/*; do $$f -max_total_time=$${FUZZ_SECONDS:-60} tests/fuzz/corpus || exit 1; done

install: all
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(PRESETDIR) $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man5
	install -m 0755 $(FENCEFS) $(FENCERUN) $(DESTDIR)$(BINDIR)/
	install -m 0644 presets/*.ini $(DESTDIR)$(PRESETDIR)/
	for m in man/*.1; do [ -e "$$m" ] && install -m 0644 $$m $(DESTDIR)$(MANDIR)/man1/; done; true
	for m in man/*.5; do [ -e "$$m" ] && install -m 0644 $$m $(DESTDIR)$(MANDIR)/man5/; done; true

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/fencefs $(DESTDIR)$(BINDIR)/fence-run
	rm -rf $(DESTDIR)$(DATADIR)/fencefs
	rm -f $(DESTDIR)$(MANDIR)/man1/fencefs.1 $(DESTDIR)$(MANDIR)/man1/fence-run.1
	rm -f $(DESTDIR)$(MANDIR)/man5/fence-policy.5 $(DESTDIR)$(MANDIR)/man5/fence-audit.5

clean:
	rm -rf build build-werror build-san

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
