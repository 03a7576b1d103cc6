# genrep.h -- build, test, bench. `make help` lists the targets.
# Switches (override on the command line: make OPENMP=0 test)
CC      ?= cc
CXX     ?= c++
OPENMP  ?= 1
CUDA    ?= 0
SAN     ?= 0
MPI     ?= 0

OPT      = -O2 -g
WARN     = -Wall -Wextra
CFLAGS_  = $(OPT) $(WARN) -std=c11 -I.
CXXFLAGS_= $(OPT) $(WARN) -std=c++17 -I.
LDLIBS_  = -lstb -lz -lm
ifeq ($(strip $(OPENMP)),1)
CFLAGS_   += -fopenmp
CXXFLAGS_ += -fopenmp
endif
ifeq ($(strip $(SAN)),1)
OPT        = -O1 -g
CFLAGS_   += -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
CXXFLAGS_ += -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
BUILD     = build/san
else
BUILD     = build
endif
# MPI=1: the same programs through mpicc (Debian's Open MPI) into build/mpi,
# so the one-process build in build/ stays as it is; only genrep train uses
# the ranks (trainer/dist.c); without MPI=1 nothing MPI is compiled or linked.
# (SAN=1 wins: the sanitizer pass of `make MPI=1 test` is the usual one.)
ifeq ($(strip $(MPI))$(strip $(SAN)),10)
CC         = mpicc
CFLAGS_   += -DGENREP_MPI=1
BUILD      = build/mpi
endif
CHECK_LIBS = $$(pkg-config --libs check)

# Debian packages each target needs; `make deps` installs what is missing.
DEPS_PKGS  = build-essential check libbenchmark-dev libstb-dev zlib1g-dev pkg-config dataset-fashion-mnist
BENCH_PKGS = libopenblas-dev libdnnl-dev
FUZZ_PKGS  = clang libclang-rt-14-dev
MPI_PKGS   = libopenmpi-dev openmpi-bin
ifeq ($(strip $(MPI)),1)
DEPS_PKGS += $(MPI_PKGS)
endif

TRAINER_SRC = $(wildcard trainer/*.c)
TEST_SRC    = $(wildcard tests/test_*.c)
TEST_BIN    = $(patsubst tests/%.c,$(BUILD)/tests/%,$(TEST_SRC))
EX_SRC      = $(wildcard examples/[0-9][0-9]_*.c)
EX_BIN      = $(patsubst examples/%.c,$(BUILD)/examples/%,$(EX_SRC))
HDR         = genrep.h

.PHONY: all deps bench-deps fuzz-deps test test-san test-mpi fuzz-smoke demo bench clean help examples fuzz repro repro-quick
all: $(BUILD)/genrep $(EX_BIN)

help:
	@echo "make          build build/genrep and the examples"
	@echo "make demo     install what is missing, build, run the main job"
	@echo "make repro    protocol v2 pre-registered in results/REPRO.md (~12 h; resumes from results/ledger.csv)"
	@echo "make repro-quick  the same pipeline and statistics at toy size (<= 20 min) -> results/quick/REPRO.md"
	@echo "make test     install what is missing, build and run every test"
	@echo "make bench    benchmarks (needs libopenblas-dev; installs it)"
	@echo "make test-san the Check suite (SAN_TESTS) under ASan+UBSan, build/san (part of make test)"
	@echo "make MPI=1    build/mpi/genrep with Open MPI: mpirun -np K build/mpi/genrep train ... (make deps installs it)"
	@echo "make test-mpi 2-rank equivalence, resume with another rank count, failures (mpirun on loopback)"
	@echo "make fuzz     run each libFuzzer target for FUZZ_SECONDS (default 20)"
	@echo "make deps     install missing Debian packages (root) or print the apt-get line"

# Install missing packages as root; otherwise print the exact command and stop.
define install_pkgs
	@missing=""; for p in $(1); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "deps: installing$$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing || exit 1; \
	  else \
	    echo "deps: missing Debian packages:$$missing"; \
	    echo "deps: run this, then repeat the make command:"; \
	    echo "    sudo apt-get install -y$$missing"; exit 1; \
	  fi; \
	fi
endef

deps:
	$(call install_pkgs,$(DEPS_PKGS))
bench-deps: deps
	$(call install_pkgs,$(BENCH_PKGS))
fuzz-deps: deps
	$(call install_pkgs,$(FUZZ_PKGS))

# One object per trainer file, so a change to one file rebuilds one object;
# genrep.h's implementation is compiled once, in trainer/impl.c's object,
# which the Check tests link too (below).
TRAINER_OBJ = $(patsubst trainer/%.c,$(BUILD)/obj/trainer/%.o,$(TRAINER_SRC))
IMPL_OBJ    = $(BUILD)/obj/trainer/impl.o
$(BUILD)/obj/trainer/%.o: trainer/%.c $(wildcard trainer/*.h) $(HDR)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_) -c -o $@ $<
$(BUILD)/genrep: $(TRAINER_OBJ) | $(BUILD)
	$(CC) $(CFLAGS_) -o $@ $(TRAINER_OBJ) $(LDLIBS_)

$(BUILD)/examples/%: examples/%.c $(HDR)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_) -o $@ $< $(LDLIBS_)

$(BUILD)/tests/mpi_ckpt_diff: tests/mpi_ckpt_diff.c $(HDR)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_) -Werror -o $@ $< $(LDLIBS_)

# A test that defines GENREP_IMPLEMENTATION itself (it reaches genrep__
# internals, which are visible only in the implementation's unit) compiles
# the whole header; every other test compiles only its own code and links
# the implementation object, which saves ~12 s of CPU per test and flavour.
SELF_IMPL_TESTS = $(patsubst tests/%.c,$(BUILD)/tests/%,$(shell grep -l '^\#define GENREP_IMPLEMENTATION' $(TEST_SRC)))
LIB_TESTS       = $(filter-out $(SELF_IMPL_TESTS),$(TEST_BIN))
$(SELF_IMPL_TESTS): $(BUILD)/tests/%: tests/%.c $(HDR) $(wildcard tests/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_) -Werror -o $@ $< $(CHECK_LIBS) $(LDLIBS_)
$(LIB_TESTS): $(BUILD)/tests/%: tests/%.c $(HDR) $(wildcard tests/*.h) $(IMPL_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_) -Werror -o $@ $< $(IMPL_OBJ) $(CHECK_LIBS) $(LDLIBS_)

# test_stats includes the trainer's statistics code
$(BUILD)/tests/test_stats: trainer/stats.c trainer/stats.h
# test_anygen includes the trainer's generator source (anygen)
$(BUILD)/tests/test_anygen: trainer/common.c trainer/common.h trainer/trainer.h

$(BUILD):
	@mkdir -p $@

examples: $(EX_BIN)

# make test = the suite (tests/run.sh), then the sanitizer pass, then the fuzz smoke
test: deps fuzz-deps
	@$(MAKE) --no-print-directory -j2 all-tests
	@BUILD=$(BUILD) sh tests/run.sh
	@$(MAKE) --no-print-directory test-san
	@$(MAKE) --no-print-directory fuzz-smoke
ifeq ($(strip $(MPI)),1)
	@$(MAKE) --no-print-directory test-mpi
endif

# Data-parallel training on loopback (tests/mpi.sh): build/mpi/genrep under
# mpirun against one process of it and of build/genrep; ~1 minute on 2 cores.
test-mpi:
	@$(MAKE) --no-print-directory MPI=1 deps
	@$(MAKE) --no-print-directory -j2 MPI=1 build/mpi/genrep build/mpi/tests/mpi_ckpt_diff
	@$(MAKE) --no-print-directory -j2 MPI=0 build/genrep
	@start=$$(date +%s); if sh tests/mpi.sh build/mpi > build/mpi/tests/mpi.log 2>&1; then \
	  echo "PASS mpi ($$(( $$(date +%s) - start ))s)"; grep '^mpi:' build/mpi/tests/mpi.log | sed 's/^/    /'; \
	else echo "FAIL mpi"; tail -n 40 build/mpi/tests/mpi.log; exit 1; fi

# Sanitizer pass: the Check tests in SAN_TESTS built with ASan+UBSan
# (SAN=1 -> build/san, -O1, -fno-sanitize-recover) and run; any report fails.
# Every part of genrep.h is covered; left out for the 10-minute budget (each
# ASan build costs ~17 s of CPU): test_golden (the layers again, against
# PyTorch) and test_export (PyTorch weights into the generator of test_models).
SAN_TESTS ?= $(filter-out test_golden test_export,$(patsubst tests/%.c,%,$(TEST_SRC)))
SAN_ENV    = ASAN_OPTIONS=halt_on_error=1:detect_leaks=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
test-san:
	@$(MAKE) --no-print-directory -j2 SAN=1 $(SAN_TESTS:%=build/san/tests/%)
	@fail=0; for t in $(SAN_TESTS); do \
	  start=$$(date +%s); \
	  if $(SAN_ENV) build/san/tests/$$t > build/san/tests/$$t.log 2>&1; then \
	    echo "PASS san $$t ($$(( $$(date +%s) - start ))s)"; \
	  else echo "FAIL san $$t"; tail -n 30 build/san/tests/$$t.log; fail=1; fi; \
	done; exit $$fail

# libFuzzer smoke: each target SMOKE_SECONDS on its committed seed corpus
SMOKE_SECONDS ?= 10
fuzz-smoke:
	@$(MAKE) --no-print-directory -j2 -C tests/fuzz all
	@$(MAKE) --no-print-directory -C tests/fuzz smoke FUZZ_SECONDS=$(SMOKE_SECONDS)

all-tests: $(TEST_BIN) $(EX_BIN) $(BUILD)/genrep $(BUILD)/tests/cxx17_header $(BUILD)/tests/two_tu_static $(BUILD)/tests/mkimages

$(BUILD)/tests/mkimages: tests/mkimages.c $(HDR) $(IMPL_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_) -Werror -o $@ $< $(IMPL_OBJ) $(LDLIBS_)

# The header compiles as C++17, and two GENREP_STATIC units link together.
$(BUILD)/tests/cxx17_header: tests/cxx17_header.cc $(HDR)
	@mkdir -p $(dir $@)
	$(CXX) $(CXXFLAGS_) -Werror -o $@ $< $(LDLIBS_)
$(BUILD)/tests/two_tu_static: tests/static_a.c tests/static_b.c $(HDR)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_) -Werror -o $@ tests/static_a.c tests/static_b.c $(LDLIBS_)

demo: deps
	@$(MAKE) --no-print-directory all
	@BUILD=$(BUILD) sh trainer/demo.sh

repro: deps
	@$(MAKE) --no-print-directory $(BUILD)/genrep
	@BUILD=$(BUILD) JOBS=$${JOBS:-2} sh trainer/repro.sh full
repro-quick: deps
	@$(MAKE) --no-print-directory $(BUILD)/genrep
	@BUILD=$(BUILD) JOBS=$${JOBS:-2} sh trainer/repro.sh quick

bench: bench-deps
	@$(MAKE) --no-print-directory -C bench

# libFuzzer targets (clang); FUZZ_SECONDS per target, default 20.
fuzz: fuzz-deps
	@$(MAKE) --no-print-directory -C tests/fuzz run

clean:
	rm -rf build
