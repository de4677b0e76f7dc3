# SPDX-License-Identifier: MIT
# libfutures - build, test, install.
#
#   make                      build/libfutures.a and build/libfutures.so
#   make check                build and run the Check test suite (and the
#                             cheap source checks: SPDX lines, man pages)
#   make check SANITIZE=thread    ... under ThreadSanitizer (build-thread/)
#   make check SANITIZE=address   ... under AddressSanitizer + UBSan
#   make check-shared         the test suite linked against libfutures.so
#   make stress               the seeded soak (tests/stress/) for STRESS_SECONDS=20,
#                             SEED=<time-based>, STRESS_THREADS=4, STRESS_SKIP=a,b;
#                             SANITIZE=thread|address as for check
#   make fuzz                 the libFuzzer harness (fuzz/, clang, ASan + UBSan)
#                             for FUZZ_SECONDS=60 from the seeds in fuzz/corpus
#   make demo                 build and run the main demonstration
#   make bench                build and run the benchmarks (bench/run.sh)
#   make docs-figures         run the programs and write every figure and picture
#                             of README.md and doc/ (BENCH=0: without the benchmarks)
#   make docs-render          fill the pages from the figures already measured
#   make lint                 clang-tidy (with the static analyzer), cppcheck,
#                             mandoc -Tlint, shell syntax (scripts/lint.sh)
#   make man                  regenerate man/man3 from include/futures.h
#   make install PREFIX=/usr/local DESTDIR=    (and make uninstall)
#   make CORO=ucontext        use the portable ucontext context switch
#   make EPOLL=lt|et          the loop's persistent epoll registrations
#                             (level- / edge-triggered) that were measured
#                             against the default one-shot ones (build-epoll-*/;
#                             bench/w7_modes.sh)
#   make WERROR=1             warnings are errors (CI)
#   make CC=clang             any C11 compiler
#
# Flags.  What the build needs is in FUT_CPPFLAGS, FUT_CFLAGS and
# FUT_LDFLAGS (as automake's AM_CFLAGS); CPPFLAGS, CFLAGS and LDFLAGS are
# the user's, default CFLAGS = -O2 -g, and come last on every command line:
# `make CFLAGS="-O0 -g3"` builds without optimisation and keeps -fPIC,
# -std=c11, -pthread and the hidden visibility.
#
# Build folders.  Each configuration builds in its own folder, so switching
# back and forth never mixes objects: build/ for the plain build, else
# build-<cc>-<coro>-<sanitizer> with the parts that differ from the default
# (build-clang, build-ucontext, build-thread, build-clang-address, ...).
# BUILD=dir overrides it.  A change of flags inside one folder (CFLAGS,
# WERROR) rebuilds it: $(BUILD)/.flags remembers the last command lines.

# ---- version: written once, in include/futures.h ----------------------
hdr_version = $(shell sed -n 's/^\#define FUTURES_VERSION_$(1)  *\([0-9][0-9]*\).*/\1/p' include/futures.h)
VERSION_MAJOR := $(call hdr_version,MAJOR)
VERSION_MINOR := $(call hdr_version,MINOR)
VERSION_PATCH := $(call hdr_version,PATCH)
ifeq ($(strip $(VERSION_MAJOR)),)
$(error cannot read FUTURES_VERSION_MAJOR from include/futures.h)
endif
VERSION    := $(VERSION_MAJOR).$(VERSION_MINOR).$(VERSION_PATCH)
SOVERSION  := $(VERSION_MAJOR)

# ---- where things go --------------------------------------------------
PREFIX     ?= /usr/local
DESTDIR    ?=
LIBDIR     ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
MANDIR     ?= $(PREFIX)/share/man
PKGCONFIGDIR ?= $(LIBDIR)/pkgconfig
CMAKEDIR   ?= $(LIBDIR)/cmake/libfutures

# ---- configuration ----------------------------------------------------
CC         ?= cc
SANITIZE   ?=
CORO       ?= asm
WERROR     ?= 0
EPOLL      ?= oneshot

cc_name := $(notdir $(firstword $(CC)))
config  := $(if $(filter-out cc gcc,$(cc_name)),-$(cc_name))$(if $(filter-out asm,$(CORO)),-$(CORO))$(if $(filter-out oneshot,$(EPOLL)),-epoll-$(EPOLL))$(if $(SANITIZE),-$(SANITIZE))
BUILD   ?= build$(config)

ARCH := $(shell $(CC) -dumpmachine 2>/dev/null)

# ---- flags: required ones in FUT_*, the user's last ---------------------
CFLAGS   ?= -O2 -g
WARN     := -Wall -Wextra -Wpedantic -Wshadow -Wstrict-prototypes -Wmissing-prototypes
FUT_CPPFLAGS := -D_GNU_SOURCE -Iinclude -Ilib
FUT_CFLAGS   := -std=c11 $(WARN) -pthread -fPIC -fvisibility=hidden
FUT_LDFLAGS  :=
FUT_LDLIBS   := -pthread

ifeq ($(WERROR),1)
FUT_CFLAGS += -Werror
endif

ifeq ($(EPOLL),lt)
FUT_CPPFLAGS += -DFUT_EPOLL_MODE=1
else ifeq ($(EPOLL),et)
FUT_CPPFLAGS += -DFUT_EPOLL_MODE=2
else ifneq ($(EPOLL),oneshot)
$(error EPOLL must be oneshot, lt or et)
endif

ifeq ($(SANITIZE),thread)
FUT_CFLAGS  += -fsanitize=thread -fno-omit-frame-pointer
FUT_LDFLAGS += -fsanitize=thread
else ifeq ($(SANITIZE),address)
FUT_CFLAGS  += -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
FUT_LDFLAGS += -fsanitize=address,undefined
else ifeq ($(SANITIZE),fuzzer)
# The library instrumented for libFuzzer (clang); only the fuzzer's own
# program links libFuzzer's main (make fuzz).
FUT_CFLAGS  += -fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer \
               -fno-sanitize-recover=undefined
FUT_LDFLAGS += -fsanitize=address,undefined
else ifneq ($(SANITIZE),)
$(error SANITIZE must be thread, address or fuzzer)
endif

# Context-switch back end: hand-written assembly where we have it.
CORO_SRC := lib/coro/ucontext.c
ifeq ($(CORO),asm)
ifneq ($(findstring x86_64,$(ARCH)),)
CORO_SRC := lib/coro/switch_x86_64_sysv.S
else ifneq ($(findstring aarch64,$(ARCH)),)
CORO_SRC := lib/coro/switch_aarch64_aapcs.S
else
FUT_CPPFLAGS += -DFUT_CORO_UCONTEXT=1
endif
else ifeq ($(CORO),ucontext)
FUT_CPPFLAGS += -DFUT_CORO_UCONTEXT=1
else
$(error CORO must be asm or ucontext)
endif

# The command lines, in the order they are used.
ALL_CPPFLAGS = $(FUT_CPPFLAGS) $(CPPFLAGS)
ALL_CFLAGS   = $(FUT_CFLAGS) $(CFLAGS)
ALL_LDFLAGS  = $(FUT_LDFLAGS) $(LDFLAGS)
ALL_LDLIBS   = $(FUT_LDLIBS) $(LDLIBS)

LIB_SRC  := $(wildcard lib/*.c) lib/coro/ctx.c $(CORO_SRC)
LIB_OBJ  := $(patsubst %,$(BUILD)/%.o,$(LIB_SRC))
LIB_A    := $(BUILD)/libfutures.a
LIB_SO   := $(BUILD)/libfutures.so.$(VERSION)
LIB_SONAME := libfutures.so.$(SOVERSION)

TEST_SRC := $(wildcard tests/test_*.c)
TEST_BIN := $(patsubst tests/%.c,$(BUILD)/tests/%,$(TEST_SRC))
# The tests that use only the public API can link the shared library too
# (the others call hidden fut__ functions, found only in libfutures.a;
# test_examples calls no library function: it runs the examples).
SHARED_TEST_SRC := $(filter-out tests/test_examples.c,$(shell grep -L 'fut__' $(TEST_SRC)))
SHARED_TEST_BIN := $(patsubst tests/%.c,$(BUILD)/tests-shared/%,$(SHARED_TEST_SRC))
BENCH_SRC := $(wildcard bench/*.c)
BENCH_BIN := $(patsubst bench/%.c,$(BUILD)/bench/%,$(BENCH_SRC))
EX_SRC   := $(wildcard examples/*.c)
EX_BIN   := $(patsubst examples/%.c,$(BUILD)/examples/%,$(EX_SRC))

HDR := include/futures.h $(wildcard lib/*.h lib/coro/*.h)

.PHONY: all lib check check-source check-shared tests tests-shared bench benches \
        examples demo install uninstall clean check-deps man lint FORCE \
        stress fuzz fuzz-build docs-figures docs-render docs-check tutorial-commands
all: lib

lib: $(LIB_A) $(BUILD)/libfutures.so

# $(BUILD)/.flags holds the command lines this folder was built with; it
# changes (and so rebuilds everything) only when they do.
FLAGS_FILE := $(BUILD)/.flags
FLAGS_NOW   = $(CC) $(ALL_CPPFLAGS) $(ALL_CFLAGS) $(ALL_LDFLAGS) $(ALL_LDLIBS) $(CORO_SRC)
FLAGS_OLD  := $(shell cat $(FLAGS_FILE) 2>/dev/null)
ifeq ($(strip $(FLAGS_OLD)),$(strip $(FLAGS_NOW)))
$(FLAGS_FILE): ;
else
$(FLAGS_FILE): FORCE
	@mkdir -p $(@D)
	@printf '%s\n' '$(subst ','\'',$(strip $(FLAGS_NOW)))' > $@
endif

$(BUILD)/%.c.o: %.c $(HDR) $(FLAGS_FILE)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CPPFLAGS) $(ALL_CFLAGS) -c $< -o $@

# Assembly: -Wpedantic does not apply.
$(BUILD)/%.S.o: %.S lib/coro/ctx.h $(FLAGS_FILE)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CPPFLAGS) $(filter-out -Wpedantic,$(ALL_CFLAGS)) -c $< -o $@

$(LIB_A): $(LIB_OBJ)
	@rm -f $@
	$(AR) rcs $@ $^

$(LIB_SO): $(LIB_OBJ)
	$(CC) $(ALL_CFLAGS) -shared -Wl,-soname,$(LIB_SONAME) -Wl,-z,noexecstack $(ALL_LDFLAGS) \
	    -o $@ $^ $(ALL_LDLIBS)

$(BUILD)/libfutures.so: $(LIB_SO)
	ln -sf libfutures.so.$(VERSION) $(BUILD)/$(LIB_SONAME)
	ln -sf libfutures.so.$(VERSION) $@

# ---- tests (Check) ---------------------------------------------------
# make check installs Check (Debian's `check` package) when it is missing,
# and what the source checks and the trace tests need (python3, a
# decimal-comma locale).
CHECK_LIBS = $(shell pkg-config --libs check 2>/dev/null || echo -lcheck -lsubunit -lm -lrt)
CHECK_CFLAGS = $(shell pkg-config --cflags check 2>/dev/null)

check-deps:
	@scripts/ensure-deps.sh check

# Tests know the build folder (FUT_BUILD_DIR) to find the examples they
# run; the examples are built first.  Test code keeps default visibility.
TEST_FLAGS = $(ALL_CPPFLAGS) $(CHECK_CFLAGS) $(ALL_CFLAGS) -fvisibility=default \
             -DFUT_BUILD_DIR=\"$(BUILD)\"

# (built against tests/shim/check.h instead of Check: scripts/cross-aarch64.sh)
TEST_DEPS = $(wildcard tests/*.h) $(if $(findstring tests/shim,$(CHECK_CFLAGS)),tests/shim/check.h)

$(BUILD)/tests/%: tests/%.c $(TEST_DEPS) $(LIB_A) | check-deps
	@mkdir -p $(dir $@)
	$(CC) $(TEST_FLAGS) $< -o $@ $(ALL_LDFLAGS) $(LIB_A) $(CHECK_LIBS) $(ALL_LDLIBS)

$(BUILD)/tests-shared/%: tests/%.c $(TEST_DEPS) $(BUILD)/libfutures.so | check-deps
	@mkdir -p $(dir $@)
	$(CC) $(TEST_FLAGS) $< -o $@ $(ALL_LDFLAGS) -L$(BUILD) -Wl,-rpath,'$$ORIGIN/..' \
	    -lfutures $(CHECK_LIBS) $(ALL_LDLIBS)

tests: $(TEST_BIN) $(EX_BIN)

tests-shared: $(SHARED_TEST_BIN) $(EX_BIN)

# Cheap checks of the sources: every file has its SPDX line, and the
# committed man pages are those the header generates.
check-source: check-deps
	@scripts/check-spdx.sh
	@scripts/gen-man.py --check include/futures.h man

# make check also verifies that the pages quote only figures of the last
# measured sets (docs-check) and, in the plain build, that the tutorial's
# commands build and run its programs (tutorial-commands): seconds each.
check: check-deps
	@$(MAKE) --no-print-directory check-source
	@$(MAKE) --no-print-directory tests $(STRESS_BIN)
	@scripts/check-layers.sh $(BUILD)
	@scripts/run-tests.sh $(TEST_BIN)
	@echo "a 5-second run of the soak (make stress runs it longer):"
	@$(STRESS_BIN) --seconds=5 --threads=$(STRESS_THREADS)
	@$(MAKE) --no-print-directory docs-check
ifeq ($(SANITIZE),)
	@$(MAKE) --no-print-directory tutorial-commands
endif

# The same suites against libfutures.so (those that use only the public
# API): each binary must resolve the library from $(BUILD).
check-shared: check-deps
	@$(MAKE) --no-print-directory tests-shared
	@for t in $(SHARED_TEST_BIN); do \
	    ldd $$t | grep -q '$(LIB_SONAME) => .*$(BUILD)' || \
	    { echo "check-shared: $$t does not load $(BUILD)/$(LIB_SONAME)" >&2; exit 1; }; done
	@scripts/run-tests.sh $(SHARED_TEST_BIN)

# ---- the seeded soak (make stress) -----------------------------------
# A program of its own, not a Check suite: it runs for STRESS_SECONDS,
# prints the seed it used (SEED= replays its choices) and aborts with the
# replay command when an invariant breaks or nothing progresses.
STRESS_SRC     := $(wildcard tests/stress/*.c)
STRESS_BIN     := $(BUILD)/stress/soak
STRESS_SECONDS ?= 20
STRESS_THREADS ?= 4
STRESS_SKIP    ?=
SEED           ?=

$(STRESS_BIN): $(STRESS_SRC) tests/stress/soak.h $(LIB_A)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CPPFLAGS) $(ALL_CFLAGS) $(STRESS_SRC) -o $@ $(ALL_LDFLAGS) $(LIB_A) $(ALL_LDLIBS)

stress: $(STRESS_BIN)
	$(STRESS_BIN) --seed=$(SEED) --seconds=$(STRESS_SECONDS) --threads=$(STRESS_THREADS) \
	    --skip=$(STRESS_SKIP)

# ---- the fuzzer (make fuzz) ------------------------------------------
# clang with libFuzzer, ASan and UBSan; the library is built with
# SANITIZE=fuzzer in its own folder (build-clang-fuzzer).  New inputs go to
# that folder's corpus/; fuzz/corpus is read as seeds and never written.  A
# crash leaves its input there (crash-*, timeout-*): replay it with
# <folder>/fuzz/fuzz_api FILE.  FUZZ_SKIP=a,b leaves parts out (see
# fuzz/fuzz_api.c).
FUZZ_SECONDS ?= 60
FUZZ_CC      ?= clang
FUZZ_BUILD   := build-$(notdir $(firstword $(FUZZ_CC)))$(if $(filter-out asm,$(CORO)),-$(CORO))-fuzzer
FUZZ_BIN     := $(FUZZ_BUILD)/fuzz/fuzz_api

$(BUILD)/fuzz/fuzz_api: fuzz/fuzz_api.c include/futures.h $(LIB_A)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CPPFLAGS) $(ALL_CFLAGS) -fsanitize=fuzzer $< -o $@ $(ALL_LDFLAGS) $(LIB_A) \
	    $(ALL_LDLIBS)

fuzz-build:
	@command -v $(firstword $(FUZZ_CC)) >/dev/null || scripts/ensure-deps.sh fuzz
	@$(MAKE) --no-print-directory SANITIZE=fuzzer CC="$(FUZZ_CC)" BUILD=$(FUZZ_BUILD) \
	    CFLAGS="-O1 -g" $(FUZZ_BIN)

fuzz: fuzz-build
	@mkdir -p $(FUZZ_BUILD)/corpus
	cd $(FUZZ_BUILD) && ASAN_OPTIONS=$${ASAN_OPTIONS:-detect_leaks=1:detect_stack_use_after_return=1} \
	    ./fuzz/fuzz_api -max_total_time=$(FUZZ_SECONDS) -timeout=20 -max_len=512 -rss_limit_mb=4096 \
	    -print_final_stats=1 corpus ../fuzz/corpus

# ---- benchmarks ------------------------------------------------------
BENCH_CFLAGS = -I../shared/peers/src -Ibench

$(BUILD)/bench/%: bench/%.c $(wildcard bench/*.h) $(LIB_A)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CPPFLAGS) $(BENCH_CFLAGS) $(ALL_CFLAGS) $< -o $@ $(ALL_LDFLAGS) $(LIB_A) \
	    $(ALL_LDLIBS) -lm

# W4 again against the portable ucontext switch, to compare the two.
$(BUILD)/bench/w4_loop_ucontext: bench/w4_loop.c $(wildcard bench/*.h) FORCE
	@$(MAKE) --no-print-directory BUILD=$(BUILD)/ucontext CORO=ucontext lib
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CPPFLAGS) $(BENCH_CFLAGS) $(ALL_CFLAGS) -DW4_LABEL='"libfutures-yield-ucontext"' \
	    $< -o $@ $(ALL_LDFLAGS) $(BUILD)/ucontext/libfutures.a $(ALL_LDLIBS) -lm

benches: $(BENCH_BIN) $(BUILD)/bench/w4_loop_ucontext

bench: benches
	@bench/run.sh $(BUILD)

# ---- examples --------------------------------------------------------
$(BUILD)/examples/%: examples/%.c $(wildcard examples/*.h) $(LIB_A)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CPPFLAGS) -Iexamples $(ALL_CFLAGS) $< -o $@ $(ALL_LDFLAGS) $(LIB_A) \
	    $(ALL_LDLIBS) -lm

examples: $(EX_BIN)

demo: examples
	@scripts/demo.sh $(BUILD)

# ---- documentation: figures and commands ------------------------------
# Every number and picture of README.md and doc/ comes from
# tools/docfigures: `measure` runs the examples (and with BENCH=1, the
# default, bench/run.sh PEERS=1 GROWTH=1 DOC=1: about 30 minutes more),
# writes doc/figures/*.json and doc/img/*.svg, and fills the pages;
# `check` fails when a page quotes a figure the sets do not hold.
BENCH ?= 1
docs-figures: examples $(if $(filter 1,$(BENCH)),benches)
	@python3 tools/docfigures measure --build $(BUILD) $(if $(filter 1,$(BENCH)),--bench)

docs-render:
	@python3 tools/docfigures render

docs-check:
	@python3 tools/docfigures check

# The tutorial's shell commands, run as written in a copy of this tree
# that shares $(BUILD) (scripts/tutorial-commands.sh --fresh: in a fresh clone).
tutorial-commands: lib
	@scripts/tutorial-commands.sh --build $(BUILD)

# ---- reference manual and lint ---------------------------------------
# man/man3 is generated from the header's contract comments and committed;
# `make check` fails when it is stale.  Generating needs python3; building
# and installing do not.
man:
	@scripts/gen-man.py include/futures.h man

lint:
	@scripts/lint.sh $(BUILD)

# ---- install ---------------------------------------------------------
# libfutures.pc and the CMake package name their folders relative to the
# prefix when they are inside it (pkg-config --define-prefix, relocatable
# CMake packages), absolute otherwise.
pc_path = $(if $(filter $(PREFIX)/%,$(1)),$${prefix}/$(patsubst $(PREFIX)/%,%,$(1)),$(1))
cm_path = $(if $(and $(filter $(PREFIX)/%,$(1)),$(filter $(PREFIX)/%,$(CMAKEDIR))),$${_libfutures_prefix}/$(patsubst $(PREFIX)/%,%,$(1)),$(1))
CMAKE_TO_PREFIX = $(if $(filter $(PREFIX)/%,$(CMAKEDIR)),$${CMAKE_CURRENT_LIST_DIR}/$(shell realpath -m --relative-to='$(CMAKEDIR)' '$(PREFIX)'),$(PREFIX))
POINTER_SIZE = $(shell printf '__SIZEOF_POINTER__\n' | $(CC) -E -P -x c - 2>/dev/null | tr -d ' \n')

$(BUILD)/libfutures.pc: libfutures.pc.in include/futures.h FORCE
	@mkdir -p $(dir $@)
	@sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@LIBDIR@|$(call pc_path,$(LIBDIR))|' \
	    -e 's|@INCLUDEDIR@|$(call pc_path,$(INCLUDEDIR))|' -e 's|@VERSION@|$(VERSION)|' $< > $@.tmp
	@mv $@.tmp $@

$(BUILD)/cmake/%.cmake: cmake/%.cmake.in include/futures.h FORCE
	@mkdir -p $(dir $@)
	@sed -e 's|@VERSION@|$(VERSION)|g' -e 's|@VERSION_MAJOR@|$(VERSION_MAJOR)|g' \
	    -e 's|@VERSION_MINOR@|$(VERSION_MINOR)|g' -e 's|@SOVERSION@|$(SOVERSION)|g' \
	    -e 's|@CMAKE_TO_PREFIX@|$(CMAKE_TO_PREFIX)|g' -e 's|@LIBDIR@|$(call cm_path,$(LIBDIR))|g' \
	    -e 's|@INCLUDEDIR@|$(call cm_path,$(INCLUDEDIR))|g' -e 's|@POINTER_SIZE@|$(POINTER_SIZE)|g' \
	    $< > $@.tmp
	@mv $@.tmp $@

CMAKE_FILES := $(BUILD)/cmake/libfuturesConfig.cmake $(BUILD)/cmake/libfuturesConfigVersion.cmake
MAN_PAGES   := $(wildcard man/man3/*.3)

install: lib $(BUILD)/libfutures.pc $(CMAKE_FILES)
	install -d $(DESTDIR)$(INCLUDEDIR) $(DESTDIR)$(LIBDIR) $(DESTDIR)$(PKGCONFIGDIR) \
	    $(DESTDIR)$(CMAKEDIR) $(DESTDIR)$(MANDIR)/man3
	install -m 644 include/futures.h $(DESTDIR)$(INCLUDEDIR)/futures.h
	install -m 644 $(LIB_A) $(DESTDIR)$(LIBDIR)/libfutures.a
	install -m 755 $(LIB_SO) $(DESTDIR)$(LIBDIR)/libfutures.so.$(VERSION)
	ln -sf libfutures.so.$(VERSION) $(DESTDIR)$(LIBDIR)/$(LIB_SONAME)
	ln -sf libfutures.so.$(VERSION) $(DESTDIR)$(LIBDIR)/libfutures.so
	install -m 644 $(BUILD)/libfutures.pc $(DESTDIR)$(PKGCONFIGDIR)/libfutures.pc
	install -m 644 $(CMAKE_FILES) $(DESTDIR)$(CMAKEDIR)/
	@echo "install -m 644 man/man3/*.3 $(DESTDIR)$(MANDIR)/man3/"
	@install -m 644 $(MAN_PAGES) $(DESTDIR)$(MANDIR)/man3/
	@grep -v '^#' man/aliases | while read -r alias page; do \
	    ln -sf "$$page.3" "$(DESTDIR)$(MANDIR)/man3/$$alias.3" || exit 1; done
	@[ -n "$(DESTDIR)" ] || scripts/post-install.sh "$(LIBDIR)" "$(LIB_SONAME)"

uninstall:
	rm -f $(DESTDIR)$(INCLUDEDIR)/futures.h $(DESTDIR)$(LIBDIR)/libfutures.a \
	      $(DESTDIR)$(LIBDIR)/libfutures.so.$(VERSION) $(DESTDIR)$(LIBDIR)/$(LIB_SONAME) \
	      $(DESTDIR)$(LIBDIR)/libfutures.so $(DESTDIR)$(PKGCONFIGDIR)/libfutures.pc \
	      $(DESTDIR)$(CMAKEDIR)/libfuturesConfig.cmake \
	      $(DESTDIR)$(CMAKEDIR)/libfuturesConfigVersion.cmake \
	      $(patsubst man/man3/%,$(DESTDIR)$(MANDIR)/man3/%,$(MAN_PAGES))
	@grep -v '^#' man/aliases | while read -r alias page; do \
	    rm -f "$(DESTDIR)$(MANDIR)/man3/$$alias.3"; done
	-@rmdir $(DESTDIR)$(CMAKEDIR) 2>/dev/null || true
	@[ -n "$(DESTDIR)" ] || [ "$$(id -u)" != 0 ] || ldconfig 2>/dev/null || true

clean:
	rm -rf build build-*
