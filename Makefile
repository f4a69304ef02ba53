# Two commands are the whole quick start: `make demo` and `make test`. Each installs missing
# Debian packages first, then configures and builds (RelWithDebInfo) into build/.
BUILD ?= build
JOBS  ?= $(shell nproc 2>/dev/null || echo 2)
CMAKE_FLAGS ?=

.PHONY: all deps configure build build-demo demo test bench bench-quick report-screenshot clean

all: build

# Extra packages per goal. The tests also run: the numpy demo and the real-tool checks; a
# libyaml leak case (libyaml-dev); CPython's own test_gc and test_json under the launcher
# (Debian's copy of CPython's test suite); the HTML report in headless Chromium (a font for its
# text); the exports read back by valgrind's ms_print and `go tool pprof` (golang-go); the
# symbolizer's no-connect() checks under strace (with libdebuginfod, the client they exclude).
# The benchmark compares against jemalloc, tcmalloc and the heap profilers (heaptrack, Valgrind,
# gperftools; liblsan comes with g++) and counts instructions with valgrind.
DEPS_EXTRA :=
ifneq ($(filter test,$(MAKECMDGOALS)),)
DEPS_EXTRA += python3-numpy chromium fonts-dejavu-core valgrind golang-go libyaml-dev \
  libpython3.11-testsuite strace libdebuginfod1
endif
ifneq ($(filter report-screenshot,$(MAKECMDGOALS)),)
DEPS_EXTRA += chromium fonts-dejavu-core
endif
ifneq ($(filter bench bench-quick,$(MAKECMDGOALS)),)
DEPS_EXTRA += libjemalloc2 libtcmalloc-minimal4 libgoogle-perftools4 heaptrack valgrind gnuplot-nox
endif

deps:
	@bash scripts/install-deps.sh $(DEPS_EXTRA)

configure: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo $(CMAKE_FLAGS) >/dev/null

build: configure
	@cmake --build $(BUILD) -j $(JOBS)

# What the demo needs and nothing more (the tests and benchmarks are built by `make test`).
build-demo: configure
	@cmake --build $(BUILD) -j $(JOBS) --target memtrack memtrack_launcher demos

# The headline demo: the lecture's process_data at 1 GiB, run under the memtrack launcher.
demo: build-demo
	@MEMTRACK_OUTPUT=$(BUILD)/memtrack.%e.%p.json $(BUILD)/bin/memtrack -- $(BUILD)/bin/process_data --size 1GiB

test: build
	@cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

# The full run has the column "memtrack full without sites": the same sources built with
# -DMEMTRACK_SITES=OFF into $(BUILD)-nosites (bench/attribution.sh prints its --preload spec), so
# docs/benchmarks.md can say what the peak attribution costs (issue 10).
bench: build
	@spec="$$(JOBS=$(JOBS) bash bench/attribution.sh $(BUILD)-nosites)" && \
	  bash bench/run.sh --build $(BUILD) --preload "$$spec"

bench-quick: build
	@bash bench/run.sh --quick

# docs/process_data-report.png, the README's picture of the HTML report: process_data at 64 MiB
# under `memtrack --html`, then a headless Chromium screenshot of the page.
report-screenshot: build-demo
	@bash scripts/report-screenshot.sh $(BUILD) docs/process_data-report.png

clean:
	@rm -rf $(BUILD)
