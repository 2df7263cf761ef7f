# deepc — build, test, sanitize, install. `make help` lists the targets.
CC      ?= gcc
BUILD   ?= build
PREFIX  ?= /usr/local
VERSION := 0.1.0
SOVERSION := 0
OPT     ?= -O2
# -fno-math-errno is safe (no IEEE change); no -ffast-math: tests rely on NaN/Inf semantics.
CFLAGS  ?= $(OPT) -g
WARN    := -std=c11 -Wall -Wextra -Wpedantic
DEFS    := -D_DEFAULT_SOURCE -D_POSIX_C_SOURCE=200809L
ALLCFLAGS = $(WARN) $(DEFS) $(CFLAGS) $(SANFLAGS) -fopenmp -fPIC -fno-math-errno -Iinclude -Isrc $(KERAS_CFLAGS)
PKGS    := libcjson inih zlib libpng
# libzip and HDF5 (.keras archives) come with their flags from pkg-config
KERAS_CFLAGS := $(shell pkg-config --cflags libzip hdf5 2>/dev/null)
KERAS_LIBS   := $(shell pkg-config --libs libzip hdf5 2>/dev/null)
LDLIBS  := -lcjson -linih -lplplot -lpng -ljpeg -lz -lm $(KERAS_LIBS) -fopenmp
AVX512  := -mavx512f -mavx512bw -mavx512dq -mavx512vl -mfma -mavx2
AVX2    := -mavx2 -mfma

# src/dist/ (the MPI backend) is libdeepc_mpi.a, so libdeepc needs no MPI.
LIB_SRC  := $(filter-out src/dist/%,$(sort $(wildcard src/*/*.c)))
MPI_SRC  := $(sort $(wildcard src/dist/*.c))
MPI_CFLAGS := $(shell pkg-config --cflags ompi-c 2>/dev/null)
MPI_LIBS := $(shell pkg-config --libs ompi-c 2>/dev/null || echo -lmpi)
CLI_SRC  := $(sort $(wildcard cli/*.c))
TEST_SRC := $(sort $(wildcard tests/*.c))
EX_SRC   := $(sort $(wildcard examples/*.c))
LIB_OBJ  := $(LIB_SRC:%.c=$(BUILD)/obj/%.o)
MPI_OBJ  := $(MPI_SRC:%.c=$(BUILD)/obj/%.o)
CLI_OBJ  := $(CLI_SRC:%.c=$(BUILD)/obj/%.o)
TEST_OBJ := $(TEST_SRC:%.c=$(BUILD)/obj/%.o)
EXAMPLES := $(EX_SRC:examples/%.c=$(BUILD)/examples/%)
HEADERS  := include/deepc.h $(wildcard src/*/*.h) src/ops/ops.def src/layers/layers.def

.PHONY: all lib test asan install clean deps demo bench help examples fuzz tsan bench-refs
all: lib $(BUILD)/deepc examples $(BUILD)/test_runner

lib: $(BUILD)/libdeepc.a $(BUILD)/libdeepc.so $(BUILD)/libdeepc_mpi.a
examples: $(EXAMPLES)

$(BUILD)/obj/%_avx512.o: %_avx512.c $(HEADERS)
	@mkdir -p $(dir $@)
	$(CC) $(ALLCFLAGS) $(AVX512) -c $< -o $@
$(BUILD)/obj/%_avx2.o: %_avx2.c $(HEADERS)
	@mkdir -p $(dir $@)
	$(CC) $(ALLCFLAGS) $(AVX2) -c $< -o $@
$(BUILD)/obj/%.o: %.c $(HEADERS) $(BUILD)/gen/tests.inc
	@mkdir -p $(dir $@)
	$(CC) $(ALLCFLAGS) -I$(BUILD)/gen -c $< -o $@

# The regression test compiles the fuzz targets in (#include), so it follows them.
$(BUILD)/obj/tests/test_fuzz_regressions.o: tests/fuzz/targets.c

$(BUILD)/libdeepc.a: $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^
$(MPI_OBJ): ALLCFLAGS += $(MPI_CFLAGS)
$(BUILD)/libdeepc_mpi.a: $(MPI_OBJ)
	@rm -f $@
	ar rcs $@ $^
# Versioned as Debian's libraries are: the file libdeepc.so.$(VERSION), its
# SONAME libdeepc.so.$(SOVERSION) (what programs record and ldconfig links),
# and libdeepc.so for -ldeepc at link time.
$(BUILD)/libdeepc.so.$(VERSION): $(LIB_OBJ)
	$(CC) -shared $(SANFLAGS) -Wl,-soname,libdeepc.so.$(SOVERSION) -o $@ $^ $(LDLIBS)
$(BUILD)/libdeepc.so: $(BUILD)/libdeepc.so.$(VERSION)
	ln -sf libdeepc.so.$(VERSION) $(BUILD)/libdeepc.so.$(SOVERSION)
	ln -sf libdeepc.so.$(SOVERSION) $@
$(BUILD)/deepc: $(CLI_OBJ) $(BUILD)/libdeepc_mpi.a $(BUILD)/libdeepc.a
	$(CC) $(SANFLAGS) -o $@ $(CLI_OBJ) $(BUILD)/libdeepc_mpi.a $(BUILD)/libdeepc.a $(LDLIBS) $(MPI_LIBS)
$(BUILD)/examples/%: $(BUILD)/obj/examples/%.o $(BUILD)/libdeepc.a
	@mkdir -p $(dir $@)
	$(CC) $(SANFLAGS) -o $@ $< $(BUILD)/libdeepc.a $(LDLIBS)

# The test list is generated from the TEST(...) and GRAD_CASE(...) lines, so a
# new test cannot be forgotten.
$(BUILD)/gen/tests.inc: $(TEST_SRC)
	@mkdir -p $(dir $@)
	@grep -ho '^TEST([A-Za-z0-9_]*)' $(TEST_SRC) /dev/null | sed 's/^TEST(\(.*\))/T(\1)/' > $@.tmp
	@grep -ho '^GRAD_CASE([A-Za-z0-9_]*)' $(TEST_SRC) /dev/null | sed 's/^GRAD_CASE(\(.*\))/G(\1)/' >> $@.tmp
	@mv $@.tmp $@
$(BUILD)/test_runner: $(TEST_OBJ) $(BUILD)/libdeepc.a
	$(CC) $(SANFLAGS) -o $@ $(TEST_OBJ) $(BUILD)/libdeepc.a $(LDLIBS)

deps:
	@scripts/install-deps.sh

test: deps
	@$(MAKE) --no-print-directory all
	@BUILD=$(BUILD) scripts/run-tests.sh

asan:
	@scripts/install-deps.sh
	@$(MAKE) --no-print-directory BUILD=build-asan OPT=-O1 \
	    SANFLAGS="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined -DDC_POISON_OUTPUTS" all
	@BUILD=build-asan ASAN_OPTIONS=detect_leaks=1 LSAN_OPTIONS=suppressions=$(CURDIR)/scripts/lsan.supp scripts/run-tests.sh

# The two-threads test under ThreadSanitizer. libgomp is not instrumented, so each
# model trains with one OpenMP thread (no worker threads): TSan sees only ours.
tsan:
	@scripts/install-deps.sh
	@$(MAKE) --no-print-directory BUILD=build-tsan OPT=-O1 \
	    SANFLAGS="-fsanitize=thread -fno-omit-frame-pointer" build-tsan/test_runner
	@OMP_NUM_THREADS=1 TSAN_OPTIONS="halt_on_error=1" build-tsan/test_runner two_models_trained_in_two_threads

# libFuzzer targets (tests/fuzz/) with ASan + UBSan, FUZZ_SECONDS each (scripts/fuzz.sh).
# The SIMD kernels are built first without sanitizers (instrumented, gemm_avx512
# alone takes clang many minutes; they parse nothing); make then finds them built.
FUZZ_SECONDS ?= 60
FUZZ_PLAIN_OBJ = $(filter %_avx2.o %_avx512.o,$(LIB_SRC:%.c=build-fuzz/obj/%.o))
fuzz:
	@scripts/install-deps.sh --fuzz
	@$(MAKE) --no-print-directory BUILD=build-fuzz CC=clang OPT="-O1 -Wno-pass-failed" SANFLAGS= $(FUZZ_PLAIN_OBJ)
	@$(MAKE) --no-print-directory BUILD=build-fuzz CC=clang OPT="-O1 -Wno-pass-failed" \
	    SANFLAGS="-fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer" build-fuzz/libdeepc.a
	@FUZZ_SECONDS=$(FUZZ_SECONDS) scripts/fuzz.sh

demo: deps
	@$(MAKE) --no-print-directory all
	@scripts/demo.sh

bench: deps
	@scripts/install-deps.sh --bench
	@$(MAKE) --no-print-directory all
	@$(MAKE) --no-print-directory -C bench BUILD=../$(BUILD)

# The optional references of make bench (PyTorch 2.x, Keras 3, JAX, onnxruntime)
# from PyPI into virtual environments under BENCH_VENV, outside the repository.
bench-refs:
	@scripts/install-deps.sh --bench
	@sh bench/install_refs.sh

install: lib $(BUILD)/deepc
	install -d $(DESTDIR)$(PREFIX)/lib $(DESTDIR)$(PREFIX)/include $(DESTDIR)$(PREFIX)/bin \
	    $(DESTDIR)$(PREFIX)/lib/pkgconfig
	install -m 644 $(BUILD)/libdeepc.a $(BUILD)/libdeepc_mpi.a $(BUILD)/libdeepc.so.$(VERSION) $(DESTDIR)$(PREFIX)/lib/
	ln -sf libdeepc.so.$(VERSION) $(DESTDIR)$(PREFIX)/lib/libdeepc.so.$(SOVERSION)
	ln -sf libdeepc.so.$(SOVERSION) $(DESTDIR)$(PREFIX)/lib/libdeepc.so
	install -m 644 include/deepc.h $(DESTDIR)$(PREFIX)/include/
	install -m 755 $(BUILD)/deepc $(DESTDIR)$(PREFIX)/bin/
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@VERSION@|$(VERSION)|' deepc.pc.in \
	    > $(DESTDIR)$(PREFIX)/lib/pkgconfig/deepc.pc
	@if [ -z "$(DESTDIR)" ] && [ "$$(id -u)" = 0 ]; then ldconfig; \
	 else echo "make install: run ldconfig (as root) so programs find libdeepc.so.$(SOVERSION)"; fi

clean:
	rm -rf build build-asan build-fuzz build-tsan

help:
	@echo "make            build libdeepc.a, libdeepc.so, build/deepc, examples, tests"
	@echo "make test       install what is missing, build, run every test"
	@echo "make asan       the same tests under AddressSanitizer + UBSan"
	@echo "make tsan       the two-threads training test under ThreadSanitizer"
	@echo "make fuzz       libFuzzer targets under ASan + UBSan, FUZZ_SECONDS (60) each"
	@echo "make demo       install, build, train the Fashion-MNIST CNN"
	@echo "make bench      benchmarks against PyTorch, OpenBLAS, oneDNN"
	@echo "make bench-refs PyTorch 2.x, Keras 3, JAX, onnxruntime for make bench (BENCH_VENV)"
	@echo "make install PREFIX=DIR"
