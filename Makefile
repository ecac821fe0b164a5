# regcache: the two commands of the quick start are `make demo` and `make test`.
BUILD      ?= build
BUILD_SAN  ?= build-sanitize
BUILD_TSAN ?= build-tsan
BUILD_FUZZ ?= build-fuzz
BUILD_STATIC ?= build-static
BUILD_STATIC_ARM64 ?= build-static-arm64
FUZZ_SECONDS ?= 15
JOBS       ?= $(shell nproc)
# Optimized as a release, with line tables (-g1: backtraces, perf and addr2line; no types
# or locals for a debugger, which CMAKE_ARGS can ask for): 173 s to build instead of 228 s
# with -g in batches of 8, the same machine code (docs/decisions.md, "The build").
CMAKE_ARGS ?= -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O2 -g1 -DNDEBUG"
# The sanitizer build: clang (the fuzz build's compiler) at -O1 with line tables only, which
# still gives ASan/UBSan reports with file and line. Against g++ -O1 -g1 it compiles in 220 s
# instead of 297 s and its suite runs in 287 s instead of 368 s (docs/decisions.md).
SAN_CMAKE_ARGS ?= -DCMAKE_CXX_COMPILER=clang++-14 -DCMAKE_BUILD_TYPE=Debug \
  -DCMAKE_CXX_FLAGS_DEBUG="-O1 -gline-tables-only"

.PHONY: all deps test-deps static-deps bench-deps build build-tree static-libs static-libs-arm64 \
  static static-arm64 deb demo test suite test-sanitize sanitize-build sanitize-suite test-tsan fuzz \
  fuzz-build fuzz-run bench bench-quick bench-wan bench-static format clean

all: build

deps:
	@scripts/install-deps.sh

test-deps:
	@scripts/install-deps.sh --test

static-deps:
	@scripts/install-deps.sh --static

bench-deps:
	@scripts/install-deps.sh --bench

build: deps
	@$(MAKE) --no-print-directory build-tree

# build-tree and static-libs* check no package (`make test` installs them all first).
# MAKEFLAGS is cleared so that CMake's make keeps its own -j.
build-tree:
	@cmake -S . -B $(BUILD) $(CMAKE_ARGS) >/dev/null
	@MAKEFLAGS= cmake --build $(BUILD) -j $(JOBS)

static-libs:
	@MAKEFLAGS= scripts/static-deps.sh $(BUILD_STATIC)/deps

static-libs-arm64:
	@MAKEFLAGS= scripts/static-deps.sh $(BUILD_STATIC_ARM64)/deps --arch arm64

# One fully static executable, $(BUILD_STATIC)/regcache (docs/install.md): libcurl and libfmt
# built from Debian's source packages into $(BUILD_STATIC)/deps, the rest Debian's static
# archives; the same sources as $(BUILD)/regcache, compiled for size.
static: static-deps
	@$(MAKE) --no-print-directory static-libs
	@cmake -S . -B $(BUILD) $(CMAKE_ARGS) -DREGCACHE_STATIC_PREFIX=$(abspath $(BUILD_STATIC))/deps/prefix >/dev/null
	@cmake --build $(BUILD) --target regcache-static -j $(JOBS)
	@cp $(BUILD)/regcache-static $(BUILD_STATIC)/regcache
	@echo "$(BUILD_STATIC)/regcache: static, $$(stat -c %s $(BUILD_STATIC)/regcache) bytes"

# The same static executable for linux arm64, $(BUILD_STATIC_ARM64)/regcache: cross-built with
# Debian's aarch64 compiler against Debian's arm64 static archives (docs/install.md).
static-arm64: static-deps
	@$(MAKE) --no-print-directory static-libs-arm64
	@cmake -S . -B $(BUILD_STATIC_ARM64)/cmake -DCMAKE_BUILD_TYPE=Release \
	  -DCMAKE_TOOLCHAIN_FILE=$(abspath cmake/aarch64-linux-gnu.cmake) \
	  -DREGCACHE_STATIC_PREFIX=$(abspath $(BUILD_STATIC_ARM64))/deps/prefix \
	  -DREGCACHE_STATIC_SYSROOT=$(abspath $(BUILD_STATIC_ARM64))/deps/sysroot >/dev/null
	@cmake --build $(BUILD_STATIC_ARM64)/cmake --target regcache-static -j $(JOBS)
	@cp $(BUILD_STATIC_ARM64)/cmake/regcache-static $(BUILD_STATIC_ARM64)/regcache
	@echo "$(BUILD_STATIC_ARM64)/regcache: static arm64, $$(stat -c %s $(BUILD_STATIC_ARM64)/regcache) bytes"

# A Debian package of the static binary, man page and completions: $(BUILD_STATIC)/regcache_*.deb.
deb: static
	@cd $(BUILD) && cpack -G DEB >/dev/null
	@ls $(BUILD_STATIC)/regcache_*.deb

# Saves a sample directory into the default local store, restores it, prints the summary.
demo: build
	@scripts/demo.sh $(BUILD)/regcache

# Installs, builds, starts the test services (through CTest fixtures) and runs every test,
# then runs the unit and integration suites again under ASan and UBSan (but those labelled
# once: the long sweeps, the harness self-tests, the action's tests), then each fuzz
# target for 5 seconds. One step at a time (side by side they took longer on 2 cores), but
# for the two static libraries' builds, mostly chains of short compiler runs that keep one
# core busy each: 99 s side by side instead of 132 s (docs/decisions.md, "The build").
test: test-deps
	@$(MAKE) --no-print-directory build-tree
	@$(MAKE) --no-print-directory -j 2 static-libs static-libs-arm64
	@$(MAKE) --no-print-directory deb
	@$(MAKE) --no-print-directory static-arm64
	@$(MAKE) --no-print-directory suite
	@$(MAKE) --no-print-directory sanitize-build
	@$(MAKE) --no-print-directory sanitize-suite
	@$(MAKE) --no-print-directory fuzz-build FUZZ_SECONDS=5
	@$(MAKE) --no-print-directory fuzz-run FUZZ_SECONDS=5

suite:
	@cd $(BUILD) && ctest --output-on-failure --timeout 1500 -j 2

test-sanitize: test-deps
	@$(MAKE) --no-print-directory sanitize-build
	@$(MAKE) --no-print-directory sanitize-suite

# The unit tests under ThreadSanitizer (g++ -O1): the pipelines' threads, the hand-off and
# copy checks, the ranged download, on fakes. About 3 minutes to build and 1 to run on 2
# cores; not part of `make test`, which must stay within CI's 25 minutes (docs/testing.md).
test-tsan: test-deps
	@cmake -S . -B $(BUILD_TSAN) -DCMAKE_BUILD_TYPE=Debug -DCMAKE_CXX_FLAGS_DEBUG="-O1 -g1" \
	  -DREGCACHE_TSAN=ON >/dev/null
	@MAKEFLAGS= cmake --build $(BUILD_TSAN) --target unit_tests -j $(JOBS) > $(BUILD_TSAN)/build.log 2>&1 || \
	  { tail -40 $(BUILD_TSAN)/build.log; echo "ThreadSanitizer build failed: $(BUILD_TSAN)/build.log"; exit 1; }
	@TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 $(BUILD_TSAN)/tests/unit_tests --gtest_brief=1

# Its output goes to build.log, shown when it fails.
sanitize-build:
	@cmake -S . -B $(BUILD_SAN) $(SAN_CMAKE_ARGS) -DREGCACHE_SANITIZE=ON >/dev/null
	@MAKEFLAGS= cmake --build $(BUILD_SAN) -j $(JOBS) > $(BUILD_SAN)/build.log 2>&1 || \
	  { tail -40 $(BUILD_SAN)/build.log; echo "sanitizer build failed: $(BUILD_SAN)/build.log"; exit 1; }

# Three at a time: with two, a sanitized suite leaves a sixth of the two cores idle (Python
# and the registries wait on each other); three ran in 256 s instead of 287 s. A report's
# allocation and free stacks keep 5 frames instead of 30: 6 to 10% less CPU. LeakSanitizer's
# exit check is turned off for the integration suites but those tests/CMakeLists.txt names
# (LEAK_CHECKED_TESTS): 311 s instead of 382 s (docs/decisions.md).
sanitize-suite:
	@cd $(BUILD_SAN) && ASAN_OPTIONS=detect_leaks=1:malloc_context_size=5 UBSAN_OPTIONS=print_stacktrace=1 \
	  ctest --output-on-failure --timeout 1500 -j 3 -L 'unit|integration' -LE once

# Builds the libFuzzer targets (fuzz/) with clang into $(BUILD_FUZZ) and runs each for
# FUZZ_SECONDS on its seed corpus; crashes are kept in $(BUILD_FUZZ)/fuzz-artifacts/.
fuzz: test-deps
	@$(MAKE) --no-print-directory fuzz-build
	@$(MAKE) --no-print-directory fuzz-run

# Its output goes to build.log, shown when it fails.
fuzz-build:
	@cmake -S . -B $(BUILD_FUZZ) $(CMAKE_ARGS) -DCMAKE_CXX_COMPILER=clang++-14 -DREGCACHE_FUZZ=ON \
	  -DREGCACHE_TESTS=OFF -DREGCACHE_FUZZ_SECONDS=$(FUZZ_SECONDS) >/dev/null
	@MAKEFLAGS= cmake --build $(BUILD_FUZZ) --target fuzzers -j $(JOBS) > $(BUILD_FUZZ)/build.log 2>&1 || \
	  { tail -40 $(BUILD_FUZZ)/build.log; echo "fuzz build failed: $(BUILD_FUZZ)/build.log"; exit 1; }

fuzz-run:
	@cmake -S . -B $(BUILD_FUZZ) -DREGCACHE_FUZZ_SECONDS=$(FUZZ_SECONDS) >/dev/null
	@cd $(BUILD_FUZZ) && ctest --output-on-failure -j $(JOBS) -L fuzz

# The benchmarks (bench/README.md): installs what they need, builds, runs bench/run.sh, which
# writes docs/benchmarks.md; bench-quick is the small smoke run (a few minutes), whose
# report stays in bench/out/benchmarks-quick.md.
bench: bench-deps build
	@BENCH_COMMAND="make bench" bench/run.sh

bench-quick: bench-deps build
	@BENCH_COMMAND="make bench-quick" bench/run.sh --quick

# The same operations through a wide-area link emulator (near and far profiles), into
# docs/benchmarks-wan.md (bench/README.md).
bench-wan: bench-deps build
	@BENCH_COMMAND="make bench-wan" bench/wan.sh

# The same benchmarks with the static binary (make static), into docs/benchmarks-static.md.
bench-static: bench-deps static
	@REGCACHE=$(abspath $(BUILD_STATIC))/regcache BENCH_REPORT=docs/benchmarks-static.md \
	  BENCH_COMMAND="make bench-static" bench/run.sh

format:
	@clang-format -i $$(git ls-files 'src/*.cpp' 'src/*.hpp' 'tests/*.cpp' 'tests/*.hpp' 'fuzz/*.cpp')

clean:
	rm -rf $(BUILD) $(BUILD_SAN) $(BUILD_FUZZ) $(BUILD_STATIC) $(BUILD_STATIC_ARM64)
