# regcache: the two commands of the quick start are `make demo` and `make test`.
BUILD      ?= build
BUILD_SAN  ?= build-sanitize
JOBS       ?= $(shell nproc)
CMAKE_ARGS ?= -DCMAKE_BUILD_TYPE=RelWithDebInfo

.PHONY: all deps test-deps build demo test test-sanitize format clean

all: build

deps:
	@scripts/install-deps.sh

test-deps:
	@scripts/install-deps.sh --test

build: deps
	@cmake -S . -B $(BUILD) $(CMAKE_ARGS) >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)

# Saves a sample directory into the default local store, restores it, prints the summary.
demo: build
	@scripts/demo.sh $(BUILD)/regcache

# Installs, builds, starts the test services (through CTest fixtures) and runs every test,
# then runs the unit and integration suites again under ASan and UBSan.
test: test-deps build
	@cd $(BUILD) && ctest --output-on-failure --timeout 1500
	@$(MAKE) --no-print-directory test-sanitize

test-sanitize:
	@cmake -S . -B $(BUILD_SAN) $(CMAKE_ARGS) -DREGCACHE_SANITIZE=ON >/dev/null
	@cmake --build $(BUILD_SAN) -j $(JOBS)
	@cd $(BUILD_SAN) && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
	  ctest --output-on-failure --timeout 1500 -L 'unit|integration'

format:
	@clang-format -i $$(git ls-files 'src/*.cpp' 'src/*.hpp' 'tests/*.cpp' 'tests/*.hpp')

clean:
	rm -rf $(BUILD) $(BUILD_SAN)
