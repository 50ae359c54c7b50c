# vmmu - the only build entry.
#   make            build build/vmmu and build/libvmmu.a (installs deps first)
#   make test       unit tests (one cmocka binary per module) and end-to-end tests
#   make compare    run every workload under every mode -> results/
#   make bench      simulated accesses per second vs a no-translation baseline
#   make deps       install the Debian packages the build needs (apt-get)
#   make install    PREFIX=/usr/local: binary, static library, public header
#   make perf       cpu-clock profile of one run (perf record)
#   make SANITIZE=1 test   the same suite under ASan and UBSan (build-san/)
#   make fuzz FUZZ_SECONDS=N   run each libFuzzer harness of tests/fuzz/ for N s
#                  (clang, build-fuzz/); a crash is copied to tests/fuzz/regress/

CC      ?= gcc
PREFIX  ?= /usr/local
SANITIZE ?= 0

ifeq ($(SANITIZE),1)
BUILD   := build-san
SANFLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
# ASan replaces malloc; jemalloc would fight it, so the sanitizer build uses
# the system allocator and reports heap statistics as 0.
ALLOC_DEFS := -DVMMU_NO_JEMALLOC
ALLOC_LIBS :=
OPT     := -O1
else
BUILD   := build
SANFLAGS :=
ALLOC_DEFS :=
ALLOC_LIBS := -ljemalloc
OPT     := -O2
endif

CFLAGS  ?= $(OPT) -g
CFLAGS  += -std=c11 -Wall -Wextra -Werror -D_GNU_SOURCE -MMD -MP $(SANFLAGS) $(ALLOC_DEFS) -Iinclude
LDFLAGS += $(SANFLAGS)
LDLIBS  := $(ALLOC_LIBS) -lnuma -lm

LIB_SRC := $(sort $(filter-out src/cli/main.c,$(wildcard src/*/*.c)) $(wildcard workloads/*.c))
LIB_OBJ := $(patsubst %.c,$(BUILD)/obj/%.o,$(LIB_SRC))
MAIN_OBJ := $(BUILD)/obj/src/cli/main.o
TEST_SRC := $(sort $(wildcard tests/test_*.c))
TEST_BIN := $(patsubst tests/%.c,$(BUILD)/tests/%,$(TEST_SRC))
TEST_SUPPORT := $(wildcard tests/support/*.c)
TEST_SUPPORT_OBJ := $(patsubst %.c,$(BUILD)/obj/%.o,$(TEST_SUPPORT))

DEPS_PKGS := libjemalloc-dev libnuma-dev libcmocka-dev gnuplot-nox libxml2-utils

.PHONY: all deps test test-unit test-e2e test-fuzz-regress fuzz fuzz-deps compare bench install perf clean format traces

all: deps $(BUILD)/vmmu $(BUILD)/libvmmu.a

deps:
	@missing=""; \
	for p in $(DEPS_PKGS); do \
		dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'install ok installed' || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
		echo "make deps: installing$$missing"; \
		SUDO=""; [ "$$(id -u)" -ne 0 ] && SUDO=sudo; \
		$$SUDO apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends $$missing; \
	fi

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

$(BUILD)/libvmmu.a: $(LIB_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@
	ar rcs $@ $^

$(BUILD)/vmmu: $(MAIN_OBJ) $(BUILD)/libvmmu.a
	$(CC) $(LDFLAGS) -o $@ $(MAIN_OBJ) $(BUILD)/libvmmu.a $(LDLIBS)

$(BUILD)/tests/%: tests/%.c $(BUILD)/libvmmu.a $(TEST_SUPPORT_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -Itests -o $@ $< $(TEST_SUPPORT_OBJ) $(BUILD)/libvmmu.a $(LDLIBS) -lcmocka

test: deps
	@$(MAKE) --no-print-directory test-unit test-fuzz-regress test-e2e

test-unit: $(TEST_BIN) $(BUILD)/vmmu
	@fail=0; n=0; \
	for t in $(TEST_BIN); do \
		n=$$((n+1)); echo "== $$t"; \
		if ! $$t; then fail=$$((fail+1)); echo "FAILED: $$t"; fi; \
	done; \
	echo "unit test binaries: $$((n-fail)) passed, $$fail failed"; \
	[ $$fail -eq 0 ]

test-e2e: $(BUILD)/vmmu
	@VMMU=$(BUILD)/vmmu bash tests/e2e.sh
	@VMMU=$(BUILD)/vmmu bash tests/e2e_sweep.sh
	@VMMU=$(BUILD)/vmmu bash tests/e2e_replay.sh
	@VMMU=$(BUILD)/vmmu bash tests/e2e_explain.sh
	@VMMU=$(BUILD)/vmmu bash tests/tutorial.sh
	@VMMU=$(BUILD)/vmmu bash tests/e2e_outputs.sh
	@VMMU=$(BUILD)/vmmu bash tests/e2e_errors.sh
	@bash tests/test_layering.sh

# ---- fuzzing (tests/fuzz/) ----
# Each harness fuzz_NAME.c is built twice: with the normal compiler and
# tests/fuzz/replay_main.c as a plain driver that `make test` runs over the
# seed corpus and the regression inputs; and with clang's libFuzzer, ASan and
# UBSan for `make fuzz`, which runs each harness FUZZ_SECONDS seconds and
# copies any crash into tests/fuzz/regress/NAME/ (commit it with the fix).
FUZZ_NAMES   := $(patsubst tests/fuzz/fuzz_%.c,%,$(wildcard tests/fuzz/fuzz_*.c))
FUZZ_SECONDS ?= 10
FUZZ_BUILD   := build-fuzz
FUZZ_CC      := clang
FUZZ_CFLAGS  := -O1 -g -std=c11 -Wall -Wextra -D_GNU_SOURCE -MMD -MP -Iinclude \
		-DVMMU_NO_JEMALLOC -fno-omit-frame-pointer \
		-fsanitize=address,undefined -fno-sanitize-recover=all
FUZZ_LIB_OBJ := $(patsubst %.c,$(FUZZ_BUILD)/obj/%.o,$(LIB_SRC))
FUZZ_BINS    := $(patsubst %,$(FUZZ_BUILD)/fuzz_%,$(FUZZ_NAMES))
REPLAY_BINS  := $(patsubst %,$(BUILD)/fuzz/replay_%,$(FUZZ_NAMES))
FUZZ_DEPS_PKGS := clang libclang-rt-dev

$(BUILD)/fuzz/replay_%: tests/fuzz/fuzz_%.c tests/fuzz/replay_main.c tests/fuzz/fuzz.h $(BUILD)/libvmmu.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< tests/fuzz/replay_main.c $(BUILD)/libvmmu.a $(LDLIBS)

test-fuzz-regress: $(REPLAY_BINS)
	@fail=0; \
	for n in $(FUZZ_NAMES); do \
		echo "== fuzz replay $$n"; \
		ins="tests/fuzz/corpus/$$n"; \
		[ -d tests/fuzz/regress/$$n ] && ins="$$ins tests/fuzz/regress/$$n"; \
		if $(BUILD)/fuzz/replay_$$n $$ins >/dev/null 2>$(BUILD)/fuzz/replay_$$n.log; then \
			tail -1 $(BUILD)/fuzz/replay_$$n.log; \
		else \
			fail=1; tail -20 $(BUILD)/fuzz/replay_$$n.log; echo "FAILED: fuzz replay $$n"; \
		fi; \
	done; \
	[ $$fail -eq 0 ]

fuzz-deps:
	@missing=""; \
	for p in $(FUZZ_DEPS_PKGS); do \
		dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'install ok installed' || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
		echo "make fuzz-deps: installing$$missing"; \
		SUDO=""; [ "$$(id -u)" -ne 0 ] && SUDO=sudo; \
		$$SUDO apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends $$missing; \
	fi

$(FUZZ_BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -c $< -o $@

$(FUZZ_BUILD)/libvmmu.a: $(FUZZ_LIB_OBJ)
	rm -f $@
	ar rcs $@ $^

$(FUZZ_BUILD)/fuzz_%: tests/fuzz/fuzz_%.c tests/fuzz/fuzz.h $(FUZZ_BUILD)/libvmmu.a
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ $< $(FUZZ_BUILD)/libvmmu.a -lnuma -lm

fuzz: deps fuzz-deps
	@$(MAKE) --no-print-directory $(FUZZ_BINS)
	@fail=0; \
	for n in $(FUZZ_NAMES); do \
		echo "== fuzz $$n for $(FUZZ_SECONDS) s"; \
		mkdir -p $(FUZZ_BUILD)/corpus/$$n $(FUZZ_BUILD)/crash/$$n; \
		if ! $(FUZZ_BUILD)/fuzz_$$n -max_total_time=$(FUZZ_SECONDS) -timeout=20 \
			-rss_limit_mb=4096 -close_fd_mask=3 -print_final_stats=1 \
			-artifact_prefix=$(FUZZ_BUILD)/crash/$$n/ \
			$(FUZZ_BUILD)/corpus/$$n tests/fuzz/corpus/$$n 2>$(FUZZ_BUILD)/fuzz_$$n.log; then \
			fail=1; mkdir -p tests/fuzz/regress/$$n; \
			cp $(FUZZ_BUILD)/crash/$$n/* tests/fuzz/regress/$$n/ 2>/dev/null; \
			echo "FAILED: fuzz $$n; its input is now in tests/fuzz/regress/$$n (log: $(FUZZ_BUILD)/fuzz_$$n.log)"; \
			grep -m3 'ERROR\|SUMMARY' $(FUZZ_BUILD)/fuzz_$$n.log; \
		else \
			grep -m1 'stat::number_of_executed_units' $(FUZZ_BUILD)/fuzz_$$n.log; \
		fi; \
	done; \
	[ $$fail -eq 0 ]

# compare replays the lackey traces too: tests/data/ always, and those of
# `make traces`, recorded first when valgrind is there (a failure to record
# leaves compare running without them).
compare: deps $(BUILD)/vmmu
	@if command -v valgrind >/dev/null 2>&1; then \
		$(MAKE) --no-print-directory traces || \
		echo "make compare: recording traces failed; comparing without them (see make traces)"; \
	fi
	$(BUILD)/vmmu compare --out results

bench: deps $(BUILD)/vmmu
	$(BUILD)/vmmu bench --out results/bench.csv

traces: deps $(BUILD)/vmmu
	bash workloads/make-traces.sh workloads/traces

perf: deps $(BUILD)/vmmu
	@command -v perf >/dev/null 2>&1 || { \
		echo "make perf: installing linux-perf"; \
		SUDO=""; [ "$$(id -u)" -ne 0 ] && SUDO=sudo; \
		$$SUDO apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends linux-perf; }
	perf record -e cpu-clock -g -o $(BUILD)/perf.data -- $(BUILD)/vmmu run --mode nested --workload random
	perf report -i $(BUILD)/perf.data --stdio | head -60

install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/lib $(DESTDIR)$(PREFIX)/include
	install -m 755 $(BUILD)/vmmu $(DESTDIR)$(PREFIX)/bin/vmmu
	install -m 644 $(BUILD)/libvmmu.a $(DESTDIR)$(PREFIX)/lib/libvmmu.a
	install -m 644 include/vmmu.h $(DESTDIR)$(PREFIX)/include/vmmu.h

format:
	clang-format -i $(LIB_SRC) src/cli/main.c $(wildcard src/*/*.h) $(TEST_SRC) include/*.h

clean:
	rm -rf build build-san build-fuzz

-include $(shell find $(BUILD) $(FUZZ_BUILD) -name '*.d' 2>/dev/null)
