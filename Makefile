# hearth — GNU make build.
#
#   make                 build build/hearth and build/libhearth.a
#   make test            set up what is missing, build, run every test, print a summary line
#   make run             set up, build, fetch the default model, start `hearth chat` on it
#   make fuzz            libFuzzer harnesses under ASan+UBSan (FUZZ_SECONDS each, default 60)
#   make bench           benchmarks (bench/), side by side with the reference engine
#   make bench-compare   hearth bench vs llama-bench on 1B-shape and small models (bench/compare)
#   make install PREFIX=/usr/local
#   make SANITIZE=address,undefined   any target, with sanitizers (separate build dir)
#   make EMU512=1        any target, with the AVX-512 kernels built on SIMDe's emulation of the
#                        intrinsics (build-emu512/): they run and are tested on a CPU without AVX-512
#
# Sources are found by directory: every src/**/*.c except src/cli/ goes into libhearth.a,
# src/cli/*.c into the hearth program, tests/unit/test_*.c each into its own test binary.
# Files named *_avx2.c / *_avx512.c get only their own ISA flags.

CC       ?= cc
PREFIX   ?= /usr/local
SANITIZE ?=
VERSION  := 0.1.0

EMU512   ?=
ifneq ($(EMU512),)
BUILD    ?= build-emu512
SANFLAGS :=
else ifeq ($(SANITIZE),)
BUILD    ?= build
SANFLAGS :=
else
BUILD    ?= build-san
SANFLAGS := -fsanitize=$(SANITIZE) -fno-omit-frame-pointer -fno-sanitize-recover=all
endif

PKGS     := libcjson libpcre2-8 libmicrohttpd libcurl libcrypto
WARN     := -Wall -Wextra -Wshadow -Wno-unused-parameter -Wstrict-prototypes -Wmissing-prototypes
CPPFLAGS += -Iinclude -Isrc -D_GNU_SOURCE -DHEARTH_VERSION=\"$(VERSION)\"
CFLAGS   ?= -O2 -g
XCFLAGS  := -std=c11 $(WARN) -pthread -fPIC $(SANFLAGS) $(CFLAGS)
XLDFLAGS := -pthread $(SANFLAGS) $(LDFLAGS)
LDLIBS   += -lcjson -lpcre2-8 -lmicrohttpd -lcurl -lcrypto -ledit -lm

ISA_avx2       := -mavx2 -mfma -mf16c
ISA_avx512     := -mavx512f -mavx512bw -mavx512vl -mavx512dq -mavx2 -mfma -mf16c
ISA_avx512vnni := $(ISA_avx512) -mavx512vnni
ifneq ($(EMU512),)
# The same AVX-512 sources, compiled for AVX2 with SIMDe supplying the 512-bit intrinsics, and a
# dispatcher that offers them wherever AVX2 runs (tests only: this is slower than AVX2).
CPPFLAGS       += -DHEARTH_AVX512_EMU
ISA_avx512     := $(ISA_avx2)
ISA_avx512vnni := $(ISA_avx2)
endif

LIB_SRC  := $(filter-out src/cli/%,$(shell find src -name '*.c' | LC_ALL=C sort))
CLI_SRC  := $(sort $(wildcard src/cli/*.c))
TEST_SRC := $(sort $(wildcard tests/unit/test_*.c))
LIB_OBJ  := $(LIB_SRC:%.c=$(BUILD)/obj/%.o)
CLI_OBJ  := $(CLI_SRC:%.c=$(BUILD)/obj/%.o)
TEST_BIN := $(TEST_SRC:tests/unit/%.c=$(BUILD)/tests/%)

.PHONY: all test unit emu512 run fuzz fuzz-build fuzz-replay bench bench-compare install uninstall clean setup models golden help
all: $(BUILD)/hearth $(BUILD)/libhearth.a

$(BUILD)/libhearth.a: $(LIB_OBJ)
	@mkdir -p $(@D)
	rm -f $@ && ar rcs $@ $^

$(BUILD)/hearth: $(CLI_OBJ) $(BUILD)/libhearth.a
	$(CC) $(XLDFLAGS) -o $@ $(CLI_OBJ) $(BUILD)/libhearth.a $(LDLIBS)

$(BUILD)/obj/%_avx2.o: %_avx2.c
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(XCFLAGS) $(ISA_avx2) -MMD -MP -c -o $@ $<

$(BUILD)/obj/%_avx512.o: %_avx512.c
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(XCFLAGS) $(ISA_avx512) -MMD -MP -c -o $@ $<

$(BUILD)/obj/%_avx512vnni.o: %_avx512vnni.c
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(XCFLAGS) $(ISA_avx512vnni) -MMD -MP -c -o $@ $<

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(XCFLAGS) -MMD -MP -c -o $@ $<

$(BUILD)/tests/%: tests/unit/%.c tests/unit/tap.h $(BUILD)/libhearth.a
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(XCFLAGS) -Itests/unit $(XLDFLAGS) -o $@ $< $(BUILD)/libhearth.a $(LDLIBS)

# The public header alone, as C11 and as C++.
$(BUILD)/tests/header-c: tests/header/header_only.c include/hearth.h
	@mkdir -p $(@D)
	$(CC) -std=c11 -Wall -Wextra -Werror -pedantic -Iinclude -c -o $@.o $< && touch $@
$(BUILD)/tests/header-cxx: tests/header/header_only.cpp include/hearth.h
	@mkdir -p $(@D)
	c++ -std=c++11 -Wall -Wextra -Werror -pedantic -Iinclude -c -o $@.o $< && touch $@

# ---- set-up: Debian packages and a venv inside the checkout (scripts/setup says what it does)
setup:
	@scripts/setup

unit: all $(TEST_BIN) $(BUILD)/tests/header-c $(BUILD)/tests/header-cxx $(BUILD)/fuzz-replay emu512

# The kernel tests and the program once more with the AVX-512 kernels under emulation (see
# EMU512 above): scripts/run-tests runs that test_kernels, tests/e2e/test_kernel_sets.py that hearth.
emu512:
ifeq ($(EMU512)$(SANITIZE),)
	@$(MAKE) --no-print-directory EMU512=1 BUILD=build-emu512 build-emu512/tests/test_kernels build-emu512/hearth
endif

test: setup
	@$(MAKE) --no-print-directory unit
	@scripts/run-tests $(BUILD)

run: setup all
	@path=$$(scripts/fetch-model smollm2-135m | tail -n 1) && \
	  echo "+ $(BUILD)/hearth chat -m $$path" && $(BUILD)/hearth chat -m "$$path"

# ---- fuzzing: libFuzzer harnesses under ASan+UBSan; their corpus is replayed by make test
FUZZ_SRC     := $(sort $(wildcard tests/fuzz/fuzz_*.c))
FUZZ_BIN     := $(FUZZ_SRC:tests/fuzz/%.c=build-fuzz/%)
FUZZ_SECONDS ?= 60
FUZZ_FLAGS   := -O1 -g -fsanitize=fuzzer-no-link
# The library again, built by clang with ASan+UBSan and fuzzer coverage, in its own directory.
ifneq ($(BUILD),build-fuzz)
build-fuzz/libhearth.a: FORCE
	@$(MAKE) --no-print-directory CC=clang BUILD=build-fuzz SANITIZE=address,undefined \
	  CFLAGS="$(FUZZ_FLAGS)" build-fuzz/libhearth.a
endif
FORCE:
build-fuzz/%: tests/fuzz/%.c build-fuzz/libhearth.a
	clang -std=c11 -g -O1 $(CPPFLAGS) -DHEARTH_FUZZING -fsanitize=fuzzer,address,undefined \
	  -fno-sanitize-recover=all -pthread -o $@ $< build-fuzz/libhearth.a $(LDLIBS)
fuzz-build: setup
	@$(MAKE) --no-print-directory $(FUZZ_BIN)
fuzz: fuzz-build
	@scripts/run-fuzz $(FUZZ_SECONDS) $(FUZZ_BIN)

# Replay every corpus file through every harness with a plain driver (no libFuzzer needed).
$(BUILD)/fuzz-replay: tests/fuzz/replay.c $(FUZZ_SRC) $(BUILD)/libhearth.a
	@mkdir -p $(@D)/fuzz
	@for f in $(FUZZ_SRC); do n=$$(basename $$f .c); \
	  $(CC) $(CPPFLAGS) $(XCFLAGS) $(XLDFLAGS) -o $(BUILD)/fuzz/$$n tests/fuzz/replay.c $$f $(BUILD)/libhearth.a $(LDLIBS) || exit 1; \
	done; touch $@

bench: setup all
	@scripts/run-bench $(BUILD)

# Not part of `make test`: the full matrix takes hours on 2 cores (BENCH_* variables: see bench/compare).
bench-compare: setup all
	@HEARTH_BUILD=$(BUILD) bench/compare

install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/lib/pkgconfig $(DESTDIR)$(PREFIX)/include
	install -m 755 $(BUILD)/hearth $(DESTDIR)$(PREFIX)/bin/hearth
	install -m 644 $(BUILD)/libhearth.a $(DESTDIR)$(PREFIX)/lib/libhearth.a
	install -m 644 include/hearth.h $(DESTDIR)$(PREFIX)/include/hearth.h
	sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@VERSION@|$(VERSION)|g' -e 's|@PKGS@|$(PKGS)|g' \
	  scripts/hearth.pc.in > $(DESTDIR)$(PREFIX)/lib/pkgconfig/hearth.pc

uninstall:
	rm -f $(DESTDIR)$(PREFIX)/bin/hearth $(DESTDIR)$(PREFIX)/lib/libhearth.a \
	  $(DESTDIR)$(PREFIX)/include/hearth.h $(DESTDIR)$(PREFIX)/lib/pkgconfig/hearth.pc

clean:
	rm -rf build build-san build-fuzz build-emu512

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
