# libfutures - build, test, install.
#
#   make                      build/libfutures.a and build/libfutures.so
#   make check                build and run the Check test suite
#   make check SANITIZE=thread    ... under ThreadSanitizer (build-thread/)
#   make check SANITIZE=address   ... under AddressSanitizer + UBSan
#   make demo                 build and run the main demonstration
#   make bench                build and run the benchmarks (bench/run.sh)
#   make docs-figures         run the programs and write every figure and picture
#                             of README.md and doc/ (BENCH=0: without the benchmarks)
#   make docs-render          fill the pages from the figures already measured
#   make install PREFIX=/usr/local DESTDIR=
#   make CORO=ucontext        use the portable ucontext context switch
#   make WERROR=1             warnings are errors (CI)
#   make CC=clang             any C11 compiler
#
# Everything is built out of the source tree, under $(BUILD).

VERSION    := 0.1.0
SOVERSION  := 0
PREFIX     ?= /usr/local
DESTDIR    ?=
LIBDIR     ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include

CC         ?= cc
SANITIZE   ?=
CORO       ?= asm
WERROR     ?= 0
ifeq ($(SANITIZE),)
BUILD      ?= build
else
BUILD      ?= build-$(SANITIZE)
endif

ARCH := $(shell $(CC) -dumpmachine 2>/dev/null)

CSTD     := -std=c11
WARN     := -Wall -Wextra -Wpedantic -Wshadow -Wstrict-prototypes -Wmissing-prototypes
OPT      ?= -O2 -g
CPPFLAGS += -D_GNU_SOURCE -Iinclude -Ilib
CFLAGS   += $(CSTD) $(WARN) $(OPT) -pthread -fPIC -fvisibility=hidden
LDLIBS   += -pthread

ifeq ($(WERROR),1)
CFLAGS += -Werror
endif

ifeq ($(SANITIZE),thread)
CFLAGS  += -fsanitize=thread -fno-omit-frame-pointer
LDFLAGS += -fsanitize=thread
else ifeq ($(SANITIZE),address)
CFLAGS  += -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
LDFLAGS += -fsanitize=address,undefined
else ifneq ($(SANITIZE),)
$(error SANITIZE must be thread or address)
endif

# Context-switch back end: hand-written assembly where we have it.
CORO_SRC := lib/coro/ucontext.c
ifeq ($(CORO),asm)
ifneq ($(findstring x86_64,$(ARCH)),)
CORO_SRC := lib/coro/switch_x86_64_sysv.S
else ifneq ($(findstring aarch64,$(ARCH)),)
CORO_SRC := lib/coro/switch_aarch64_aapcs.S
else
CPPFLAGS += -DFUT_CORO_UCONTEXT=1
endif
else ifeq ($(CORO),ucontext)
CPPFLAGS += -DFUT_CORO_UCONTEXT=1
else
$(error CORO must be asm or ucontext)
endif

LIB_SRC  := $(wildcard lib/*.c) lib/coro/ctx.c $(CORO_SRC)
LIB_OBJ  := $(patsubst %,$(BUILD)/%.o,$(LIB_SRC))
LIB_A    := $(BUILD)/libfutures.a
LIB_SO   := $(BUILD)/libfutures.so.$(VERSION)
LIB_SONAME := libfutures.so.$(SOVERSION)

TEST_SRC := $(wildcard tests/test_*.c)
TEST_BIN := $(patsubst tests/%.c,$(BUILD)/tests/%,$(TEST_SRC))
BENCH_SRC := $(wildcard bench/*.c)
BENCH_BIN := $(patsubst bench/%.c,$(BUILD)/bench/%,$(BENCH_SRC))
EX_SRC   := $(wildcard examples/*.c)
EX_BIN   := $(patsubst examples/%.c,$(BUILD)/examples/%,$(EX_SRC))

HDR := include/futures.h $(wildcard lib/*.h lib/coro/*.h)

.PHONY: all lib check tests bench benches examples demo install uninstall clean check-deps \
        docs-figures docs-render docs-check tutorial-commands
all: lib

lib: $(LIB_A) $(BUILD)/libfutures.so

$(BUILD)/%.c.o: %.c $(HDR)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -c $< -o $@

$(BUILD)/%.S.o: %.S lib/coro/ctx.h
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(filter-out -Wpedantic,$(CFLAGS)) -c $< -o $@

$(LIB_A): $(LIB_OBJ)
	@rm -f $@
	$(AR) rcs $@ $^

$(LIB_SO): $(LIB_OBJ)
	$(CC) -shared -Wl,-soname,$(LIB_SONAME) -Wl,-z,noexecstack $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/libfutures.so: $(LIB_SO)
	ln -sf libfutures.so.$(VERSION) $(BUILD)/$(LIB_SONAME)
	ln -sf libfutures.so.$(VERSION) $@

# ---- tests (Check) ---------------------------------------------------
# make check installs Check (Debian's `check` package) when it is missing.
CHECK_LIBS = $(shell pkg-config --libs check 2>/dev/null || echo -lcheck -lsubunit -lm -lrt)
CHECK_CFLAGS = $(shell pkg-config --cflags check 2>/dev/null)

check-deps:
	@scripts/ensure-deps.sh check

# Tests know the build folder (FUT_BUILD_DIR) to find the examples they
# run; the examples are built first.
$(BUILD)/tests/%: tests/%.c tests/testutil.h $(LIB_A) | check-deps
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CHECK_CFLAGS) $(CFLAGS) -fvisibility=default -DFUT_BUILD_DIR=\"$(BUILD)\" \
	    $< -o $@ $(LDFLAGS) $(LIB_A) $(CHECK_LIBS) $(LDLIBS)

tests: $(TEST_BIN) $(EX_BIN)

# make check also verifies that the pages quote only figures of the last
# measured sets (docs-check) and, in the plain build, that the tutorial's
# commands build and run its programs (tutorial-commands): seconds each.
check: check-deps
	@$(MAKE) --no-print-directory tests
	@scripts/run-tests.sh $(TEST_BIN)
	@$(MAKE) --no-print-directory docs-check
ifeq ($(SANITIZE),)
	@$(MAKE) --no-print-directory tutorial-commands
endif

# ---- benchmarks ------------------------------------------------------
BENCH_CFLAGS = -I../shared/peers/src -Ibench

$(BUILD)/bench/%: bench/%.c $(wildcard bench/*.h) $(LIB_A)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(BENCH_CFLAGS) $(CFLAGS) $< -o $@ $(LDFLAGS) $(LIB_A) $(LDLIBS) -lm

# W4 again against the portable ucontext switch, to compare the two.
$(BUILD)/bench/w4_loop_ucontext: bench/w4_loop.c $(wildcard bench/*.h)
	@$(MAKE) --no-print-directory BUILD=$(BUILD)/ucontext CORO=ucontext lib
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(BENCH_CFLAGS) $(CFLAGS) -DW4_LABEL='"libfutures-yield-ucontext"' $< -o $@ \
	    $(LDFLAGS) $(BUILD)/ucontext/libfutures.a $(LDLIBS) -lm

benches: $(BENCH_BIN) $(BUILD)/bench/w4_loop_ucontext

bench: benches
	@bench/run.sh $(BUILD)

# ---- examples --------------------------------------------------------
$(BUILD)/examples/%: examples/%.c $(wildcard examples/*.h) $(LIB_A)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) -Iexamples $(CFLAGS) $< -o $@ $(LDFLAGS) $(LIB_A) $(LDLIBS) -lm

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

# ---- install ---------------------------------------------------------
install: lib
	install -d $(DESTDIR)$(INCLUDEDIR) $(DESTDIR)$(LIBDIR) $(DESTDIR)$(LIBDIR)/pkgconfig
	install -m 644 include/futures.h $(DESTDIR)$(INCLUDEDIR)/futures.h
	install -m 644 $(LIB_A) $(DESTDIR)$(LIBDIR)/libfutures.a
	install -m 755 $(LIB_SO) $(DESTDIR)$(LIBDIR)/libfutures.so.$(VERSION)
	ln -sf libfutures.so.$(VERSION) $(DESTDIR)$(LIBDIR)/$(LIB_SONAME)
	ln -sf libfutures.so.$(VERSION) $(DESTDIR)$(LIBDIR)/libfutures.so
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@LIBDIR@|$(LIBDIR)|' \
	    -e 's|@INCLUDEDIR@|$(INCLUDEDIR)|' -e 's|@VERSION@|$(VERSION)|' \
	    libfutures.pc.in > $(DESTDIR)$(LIBDIR)/pkgconfig/libfutures.pc

uninstall:
	rm -f $(DESTDIR)$(INCLUDEDIR)/futures.h $(DESTDIR)$(LIBDIR)/libfutures.a \
	      $(DESTDIR)$(LIBDIR)/libfutures.so* $(DESTDIR)$(LIBDIR)/pkgconfig/libfutures.pc

clean:
	rm -rf build build-thread build-address build-*
