# libfutures - build, test, install.
#
#   make                      build/libfutures.a and build/libfutures.so
#   make check                build and run the Check test suite
#   make check SANITIZE=thread    ... under ThreadSanitizer (build-thread/)
#   make check SANITIZE=address   ... under AddressSanitizer + UBSan
#   make stress               the seeded soak (tests/stress/): STRESS_SECONDS=20
#                             SEED=<time> STRESS_THREADS=4 STRESS_SKIP=a,b
#                             (SANITIZE=thread|address as for check)
#   make fuzz                 the libFuzzer harness (fuzz/, clang) for FUZZ_SECONDS=60
#                             from the seed corpus fuzz/corpus (build-fuzzer/)
#   make demo                 build and run the main demonstration
#   make bench                build and run the benchmarks (bench/run.sh)
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
else ifeq ($(SANITIZE),fuzzer)
# The library instrumented for libFuzzer (clang); only fuzz/ links the
# fuzzer's main (make fuzz).
CFLAGS  += -fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer \
           -fno-sanitize-recover=undefined
LDFLAGS += -fsanitize=address,undefined
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

.PHONY: all lib check tests bench benches examples demo timelines install uninstall clean check-deps \
        stress fuzz fuzz-build
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

check: check-deps
	@$(MAKE) --no-print-directory tests
	@scripts/run-tests.sh $(TEST_BIN)

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
	$(CC) $(CPPFLAGS) $(CFLAGS) $(STRESS_SRC) -o $@ $(LDFLAGS) $(LIB_A) $(LDLIBS)

stress: $(STRESS_BIN)
	$(STRESS_BIN) --seed=$(SEED) --seconds=$(STRESS_SECONDS) --threads=$(STRESS_THREADS) \
	    --skip=$(STRESS_SKIP)

# ---- the fuzzer (make fuzz) ------------------------------------------
# clang with libFuzzer, ASan and UBSan, in build-fuzzer/ (the library is
# built there with SANITIZE=fuzzer).  New inputs go to build-fuzzer/corpus;
# fuzz/corpus is read as seeds and never written.  A crash leaves its input
# in build-fuzzer/ (crash-*, timeout-*); replay it with
# build-fuzzer/fuzz/fuzz_api FILE.  FUZZ_SKIP=a,b leaves parts out (see
# fuzz/fuzz_api.c).
FUZZ_SECONDS ?= 60
FUZZ_CC      ?= clang
FUZZ_BUILD   := build-fuzzer
FUZZ_BIN     := $(FUZZ_BUILD)/fuzz/fuzz_api

$(BUILD)/fuzz/fuzz_api: fuzz/fuzz_api.c include/futures.h $(LIB_A)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -fsanitize=fuzzer $< -o $@ $(LDFLAGS) $(LIB_A) $(LDLIBS)

fuzz-build:
	@command -v $(FUZZ_CC) >/dev/null || scripts/ensure-deps.sh fuzz
	@$(MAKE) --no-print-directory SANITIZE=fuzzer CC=$(FUZZ_CC) BUILD=$(FUZZ_BUILD) OPT="-O1 -g" \
	    $(FUZZ_BIN)

fuzz: fuzz-build
	@mkdir -p $(FUZZ_BUILD)/corpus
	cd $(FUZZ_BUILD) && ASAN_OPTIONS=$${ASAN_OPTIONS:-detect_leaks=1} \
	    ./fuzz/fuzz_api -max_total_time=$(FUZZ_SECONDS) -timeout=20 -rss_limit_mb=4096 \
	    -print_final_stats=1 corpus ../fuzz/corpus

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

# Rendered timelines of the lunch runs for the tutorial (doc/img/).
timelines: examples
	@scripts/timelines.sh $(BUILD)

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
