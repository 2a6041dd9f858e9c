# Makefile — the only build file of kvstore. `make help` lists the targets.
#
# Variants build into their own directory, so objects of different flags never mix:
#   make                 → build/        (-O2 -g)
#   make SANITIZE=1      → build/asan/   (AddressSanitizer + UndefinedBehaviorSanitizer)

CC      ?= cc
CFLAGS  ?= -O2 -g
STD     := -std=gnu11 -D_GNU_SOURCE
WARN    := -Wall -Wextra -Wshadow -Wformat=2 -Wstrict-prototypes -Wmissing-prototypes -Wvla \
           -Wno-unused-parameter
PKGS    := libmicrohttpd jansson openssl zlib libbrotlidec libbrotlienc libcurl gnutls libpq
PKG_CF   = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LD   = $(shell pkg-config --libs $(PKGS) 2>/dev/null) \
           $(shell pkg-config --libs lmdb 2>/dev/null || echo -llmdb) -lpthread

ifeq ($(SANITIZE),1)
  B   := build/asan
  SAN := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
  export KVS_TEST_TIMEOUT_SCALE ?= 4
  export ASAN_OPTIONS ?= detect_leaks=1:abort_on_error=1
else
  B   := build
  SAN :=
endif
ifeq ($(CI),true)
  WARN += -Werror
endif

ALL_CF = $(STD) $(WARN) $(CFLAGS) $(SAN) -Iinclude -Isrc $(PKG_CF) -MMD -MP
obj    = $(patsubst %.c,$(B)/%.o,$(1))

COMMON := $(wildcard src/common/*.c)
AUTH   := $(wildcard src/auth/*.c)
STORE  := $(wildcard src/storage/*.c)
SERVER := $(wildcard src/server/*.c src/api/*.c)
LOCALFS := $(wildcard src/localfs/*.c)
CLIENT := $(wildcard src/client/*.c)
LIBSRC := $(COMMON) $(AUTH) $(STORE) $(SERVER) $(LOCALFS) $(CLIENT)
CLI    := $(wildcard src/cli/*.c)

.DEFAULT_GOAL := all
all: $(B)/kvs libkvs

$(B)/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(ALL_CF) -c $< -o $@

$(B)/libkvs-internal.a: $(call obj,$(LIBSRC)) $(B)/gen/web_assets.o
	@rm -f $@
	$(AR) rcs $@ $^

# --- web console -----------------------------------------------------------------------------
# web/ (plain HTML, CSS and JavaScript modules, no build step) becomes one generated C file,
# so build/kvs serves the console without files beside it (src/server/assets.h). Directories
# are prerequisites too: adding or removing a file changes its directory.
WEB := $(shell find web 2>/dev/null)

$(B)/gen/web_assets.c: $(WEB) tools/embed.sh
	@mkdir -p $(@D)
	tools/embed.sh web > $@.tmp && mv $@.tmp $@

$(B)/gen/web_assets.o: $(B)/gen/web_assets.c
	$(CC) $(ALL_CF) -c $< -o $@
# --- end of web console ----------------------------------------------------------------------

# --- version -------------------------------------------------------------------------------
# The release is KVS_VERSION in include/kvs/client.h (libkvs's too; read from there, so it is
# written once). `kvs --version`, `kvs serve`'s serving line and GET /health add the commit
# built (`git describe`; empty outside a git checkout, e.g. a source tarball).
# build/gen/version_gen.h is rewritten only when the commit changes, so a new commit recompiles
# src/common/version.c and nothing else.
KVS_VERSION := $(shell sed -n 's/^\#define KVS_VERSION "\(.*\)"/\1/p' include/kvs/client.h)
KVS_COMMIT   = $(shell git describe --always --dirty --abbrev=7 2>/dev/null)

$(B)/gen/version_gen.h: FORCE
	@mkdir -p $(@D)
	@printf '#define KVS_BUILD_STR "%s"\n' '$(KVS_COMMIT)' > $@.$$$$.tmp; \
	if cmp -s $@.$$$$.tmp $@; then rm -f $@.$$$$.tmp; else mv $@.$$$$.tmp $@; fi

$(B)/src/common/version.o: $(B)/gen/version_gen.h
$(B)/src/common/version.o: ALL_CF += -I$(B)/gen
FORCE:
.PHONY: FORCE
# --- end of version ------------------------------------------------------------------------

$(B)/kvs: $(call obj,src/main.c $(CLI)) $(B)/libkvs-internal.a
	$(CC) $(SAN) $(LDFLAGS) -o $@ $^ $(PKG_LD)

# --- libkvs, the C client library ----------------------------------------------------------
# libkvs.a and libkvs.so (soname libkvs.so.$(KVS_SO_MAJOR)) from position-independent objects
# built with hidden visibility: the .so exports only what kvs/client.h and kvs.h mark KVS_API.
# It holds the client (src/client/) and what it shares with the server: the error table,
# percent-coding and the URL-signing rule (auth/sign.c, with the helpers they use).
KVS_SO_MAJOR  := 1
LIBKVS_SRC    := $(CLIENT) src/common/err.c src/common/pct.c src/common/buf.c src/common/log.c \
                 src/common/clock.c src/common/alloc.c src/auth/sign.c
LIBKVS_PKGS   := libcurl jansson libcrypto
LIBKVS_LD      = $(shell pkg-config --libs $(LIBKVS_PKGS) 2>/dev/null) -lpthread
pic            = $(patsubst %.c,$(B)/pic/%.o,$(1))

$(B)/pic/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(ALL_CF) -fPIC -fvisibility=hidden -c $< -o $@

$(B)/libkvs.a: $(call pic,$(LIBKVS_SRC))
	@rm -f $@
	$(AR) rcs $@ $^

$(B)/libkvs.so.$(KVS_VERSION): $(call pic,$(LIBKVS_SRC))
	$(CC) -shared -Wl,-soname,libkvs.so.$(KVS_SO_MAJOR) -Wl,--no-undefined $(SAN) $(LDFLAGS) \
	    -o $@ $^ $(LIBKVS_LD)
	ln -sf libkvs.so.$(KVS_VERSION) $(B)/libkvs.so.$(KVS_SO_MAJOR)
	ln -sf libkvs.so.$(KVS_SO_MAJOR) $(B)/libkvs.so

libkvs: $(B)/libkvs.a $(B)/libkvs.so.$(KVS_VERSION)

# examples/: small libkvs programs, linked with libkvs.a (tests/cli runs them)
EXAMPLES := $(patsubst examples/%.c,$(B)/examples/%,$(wildcard examples/*.c))
$(B)/examples/%: examples/%.c $(B)/libkvs.a
	@mkdir -p $(@D)
	$(CC) $(STD) $(WARN) $(CFLAGS) $(SAN) -Iinclude $(LDFLAGS) -o $@ $< $(B)/libkvs.a $(LIBKVS_LD)
examples: $(EXAMPLES)

# make install [PREFIX=/usr/local] [DESTDIR=]: the kvs binary, the headers, both libraries,
# kvs.pc (pkg-config) and the bash completion. A SANITIZE=1 build's kvs.pc asks for the
# sanitizers' runtime too, which its libkvs needs.
PREFIX  ?= /usr/local
DESTDIR ?=
INST    := $(DESTDIR)$(PREFIX)
install: all
	install -d $(INST)/bin $(INST)/include/kvs $(INST)/lib/pkgconfig $(INST)/share/bash-completion/completions
	install -m 755 $(B)/kvs $(INST)/bin/kvs
	install -m 644 include/kvs.h $(INST)/include/kvs.h
	install -m 644 include/kvs/client.h $(INST)/include/kvs/client.h
	install -m 644 $(B)/libkvs.a $(INST)/lib/libkvs.a
	install -m 755 $(B)/libkvs.so.$(KVS_VERSION) $(INST)/lib/libkvs.so.$(KVS_VERSION)
	ln -sf libkvs.so.$(KVS_VERSION) $(INST)/lib/libkvs.so.$(KVS_SO_MAJOR)
	ln -sf libkvs.so.$(KVS_SO_MAJOR) $(INST)/lib/libkvs.so
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@VERSION@|$(KVS_VERSION)|' \
	    -e 's|@REQUIRES@|$(LIBKVS_PKGS)|' -e 's|@LIBS_EXTRA@|$(SAN)|' tools/kvs.pc.in \
	    > $(INST)/lib/pkgconfig/kvs.pc
	install -m 644 tools/kvs-completion.bash $(INST)/share/bash-completion/completions/kvs

.PHONY: libkvs examples install
# --- end of libkvs -------------------------------------------------------------------------

# --- set-up --------------------------------------------------------------------------------
# Installs what is missing: Debian packages (with apt-get when run as root), npm packages.
deps:
	@tools/deps.sh build

test-deps:
	@tools/deps.sh test

# --- run -----------------------------------------------------------------------------------
# make run [LISTEN=HOST:PORT] [DATA=DIR] [ARGS="more kvs serve options"]
LISTEN ?= 127.0.0.1:8787
DATA   ?= ./data
ARGS   ?=
run: deps
	@$(MAKE) --no-print-directory all
	$(B)/kvs serve --listen $(LISTEN) --data $(DATA) $(ARGS)

# --- tests ---------------------------------------------------------------------------------
UNIT := $(wildcard tests/unit/*.c tests/unit/*/*.c)
UNIT_OBJ := $(call obj,$(filter-out tests/unit/runner.c,$(UNIT)))

$(B)/gen/unit_list.h: $(filter-out tests/unit/runner.c,$(UNIT)) tests/unit/gen.sh
	@mkdir -p $(@D)
	tests/unit/gen.sh $(filter-out tests/unit/runner.c,$(UNIT)) > $@.tmp && mv $@.tmp $@

$(B)/tests/unit/runner.o: tests/unit/runner.c $(B)/gen/unit_list.h
	@mkdir -p $(@D)
	$(CC) $(ALL_CF) -I$(B)/gen -c $< -o $@

$(B)/test-unit: $(B)/tests/unit/runner.o $(UNIT_OBJ) $(B)/libkvs-internal.a
	$(CC) $(SAN) $(LDFLAGS) -o $@ $^ $(PKG_LD)

test: test-deps
	@$(MAKE) --no-print-directory all $(B)/test-unit
	@$(MAKE) --no-print-directory test-unit test-api test-console test-cli test-pg \
	    test-unit-asan fuzz-replay fuzz-short test-crash

# Every unit test (test_pg.c too), then the storage conformance suite once more against
# PostgreSQL, on a throw-away cluster (tests/pg/with-cluster.sh).
test-unit: $(B)/test-unit
	tests/pg/with-cluster.sh sh -c '$(B)/test-unit && \
	    KVS_TEST_BACKEND=pg $(B)/test-unit storage_ -storage_lmdb_'

test-api: all
	KVS_BIN=$(CURDIR)/$(B)/kvs node --test --test-concurrency=2 tests/api/

# the web console in Debian's Chromium (playwright-core), each test with its own server
test-console: all
	KVS_BIN=$(CURDIR)/$(B)/kvs node --test --test-concurrency=2 tests/console/

# the console's pictures in docs/ (README.md shows them); not part of `make test`
screenshots: test-deps all
	KVS_BIN=$(CURDIR)/$(B)/kvs node tools/screenshots.mjs

# the kvs command line, libkvs's examples and install, export, and the official Apify CLI
test-cli: all examples
	KVS_BIN=$(CURDIR)/$(B)/kvs KVS_BUILD=$(CURDIR)/$(B) KVS_MAKE_ARGS="$(if $(SANITIZE),SANITIZE=$(SANITIZE))" \
	    node --test --test-concurrency=2 tests/cli/

# --- PostgreSQL ----------------------------------------------------------------------------
# The scale-out back-end (src/storage/pg_*.c), tested on throw-away clusters (tests/pg/cluster.sh:
# initdb in a temporary directory, a Unix socket there, stopped by its PID at the end):
#   make test-pg   the API suite against PostgreSQL-backed servers, then the two-node tests
#                  (tests/pg/two-node.test.mjs) on the same cluster, then the faults
#                  (tests/pg/faults.test.mjs), which start clusters of their own to crash
#   (make test-unit runs test_pg.c and the conformance suite on PostgreSQL)
test-pg: all
	KVS_BIN=$(CURDIR)/$(B)/kvs tests/pg/with-cluster.sh sh -c \
	    'KVS_TEST_BACKEND=pg node --test --test-concurrency=2 tests/api/ && \
	     node --test --test-concurrency=1 tests/pg/two-node.test.mjs'
	KVS_BIN=$(CURDIR)/$(B)/kvs node --test --test-concurrency=1 tests/pg/faults.test.mjs

.PHONY: test-pg
# --- end of PostgreSQL ---------------------------------------------------------------------

# --- benchmarks ----------------------------------------------------------------------------
# `make bench` compares kvs with nginx and the disk (bench/run.sh; results in bench/results/).
# `make bench QUICK=1` is a short smoke run (1 run of 2 s per row, a 10,000-key store).
# Never part of `make test`.
$(B)/fsync_bench: bench/fsync_bench.c bench/util.h
	@mkdir -p $(@D)
	$(CC) $(STD) $(WARN) $(CFLAGS) $(SAN) $(LDFLAGS) -o $@ $<

# `make bench-wal`: the disk side of a durable commit, LMDB's synced commit against the
# write-ahead log's (bench/wal_model.c), interleaved rounds on the disk under build/
# (bench/wal_model.sh; ROUNDS, DUR).
$(B)/wal_model: bench/wal_model.c bench/util.h
	@mkdir -p $(@D)
	$(CC) $(STD) $(WARN) $(CFLAGS) $(SAN) $(LDFLAGS) -o $@ $< -lpthread

# `make bench-pg-blob`: how PostgreSQL holds a large value best (bench/pg_blob_model.c): rows of a
# chunk table written with COPY (what kvs does) against a large object written with lo_write, on
# a throw-away cluster with fsync on (MIB, ROUNDS).
$(B)/pg_blob_model: bench/pg_blob_model.c bench/util.h
	@mkdir -p $(@D)
	$(CC) $(STD) $(WARN) $(CFLAGS) $(SAN) $(PKG_CF) $(LDFLAGS) -o $@ $< $(PKG_LD)

bench-pg-blob: $(B)/pg_blob_model
	KVS_TEST_PG_DURABLE=1 tests/pg/with-cluster.sh sh -c \
	    '$(CURDIR)/$(B)/pg_blob_model "$$KVS_TEST_PG" $(or $(MIB),256) $(or $(ROUNDS),3)'

bench-wal: $(B)/wal_model $(B)/fsync_bench
	WAL_MODEL=$(CURDIR)/$(B)/wal_model FSYNC_BENCH=$(CURDIR)/$(B)/fsync_bench \
	WAL_DIR=$(CURDIR)/$(B)/wal-model bench/wal_model.sh

$(B)/bulkload: $(call obj,bench/bulkload.c) $(B)/libkvs-internal.a
	$(CC) $(SAN) $(LDFLAGS) -o $@ $^ $(PKG_LD)

# the mixed GET/PUT load that tells the two latencies apart (wrk reports one)
$(B)/mixload: bench/mixload.c
	@mkdir -p $(@D)
	$(CC) $(STD) $(WARN) $(CFLAGS) $(SAN) $(LDFLAGS) -o $@ $<

bench-deps:
	@tools/deps.sh bench

bench: bench-deps
	@$(MAKE) --no-print-directory all $(B)/fsync_bench $(B)/bulkload $(B)/mixload
	KVS_BIN=$(CURDIR)/$(B)/kvs FSYNC_BENCH=$(CURDIR)/$(B)/fsync_bench \
	BULKLOAD=$(CURDIR)/$(B)/bulkload MIXLOAD=$(CURDIR)/$(B)/mixload BENCH_DATA=$(CURDIR)/$(B)/bench-data \
	QUICK=$(QUICK) bench/run.sh

# `make bench-bare`: what libmicrohttpd's suspend/resume hand-off costs a PUT by itself, in a bare
# server (bench/bare_put.c, bench/bare.sh): answered on the request thread vs through a second one.
$(B)/bare_put: bench/bare_put.c
	@mkdir -p $(@D)
	$(CC) $(STD) $(WARN) $(CFLAGS) $(SAN) $(PKG_CF) $(LDFLAGS) -o $@ $< $(PKG_LD)

bench-bare: bench-deps $(B)/bare_put
	BARE_PUT=$(CURDIR)/$(B)/bare_put bench/bare.sh

# `make bench-ir [IR_ROWS="get1k put1k"]`: the server's instructions per request under
# callgrind (bench/callgrind.sh), repeatable whatever else the machine is doing.
bench-ir: bench-deps
	@$(MAKE) --no-print-directory all
	KVS_BIN=$(CURDIR)/$(B)/kvs bench/callgrind.sh $(IR_ROWS)

.PHONY: bench bench-deps bench-ir bench-bare bench-wal
# --- end of benchmarks ---------------------------------------------------------------------

# --- fuzzing and sanitizers ----------------------------------------------------------------
# libFuzzer harnesses, one per parser of outside input (tests/fuzz/README.md):
#   make fuzz [FUZZ_TIME=60] [FUZZ_TARGETS=fuzz_sign] [FUZZ_JOBS=nproc]
#                       each harness for FUZZ_TIME s (clang), FUZZ_JOBS at a time; seeds in
#                       tests/fuzz/corpus/ are only read, new inputs go to
#                       build/fuzz/new-<harness>, crashes to build/fuzz/
#   make fuzz-replay    every seed through the same harnesses built with $(CC) (and ASan +
#                       UBSan with SANITIZE=1): fuzz findings stay regression tests
#   make fuzz-short     FUZZ_SHORT_TIME s of each harness; skipped (said so) without libFuzzer
#   make test-unit-asan the C unit tests built with ASan + UBSan (build/asan), also in plain
#                       `make test`, so CI always runs them sanitized
FUZZ_TARGETS    ?= $(patsubst tests/fuzz/%.c,%,$(wildcard tests/fuzz/fuzz_*.c))
FUZZ_TIME       ?= 60
FUZZ_SHORT_TIME ?= 10
FUZZ_CC         ?= clang
FUZZ_JOBS       ?= $(shell nproc 2>/dev/null || echo 1)
FZ              := build/fuzz
# clang warns where gcc does not; the gcc build is the one that enforces -Werror
FUZZ_CF          = $(STD) $(filter-out -Werror,$(WARN)) -g -O1 -fno-omit-frame-pointer \
                   -fsanitize=address,undefined -fno-sanitize-recover=all -Iinclude -Isrc \
                   $(PKG_CF) -MMD -MP
# fuzz_json answers the request's header look-ups itself (see the harness)
FUZZ_LD_fuzz_json := -Wl,--wrap=MHD_lookup_connection_value

$(FZ)/obj/%.o: %.c
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CF) -fsanitize=fuzzer-no-link -c $< -o $@

$(FZ)/obj/src/common/version.o: $(B)/gen/version_gen.h
$(FZ)/obj/src/common/version.o: FUZZ_CF += -I$(B)/gen

$(FZ)/libkvs-fuzz.a: $(patsubst %.c,$(FZ)/obj/%.o,$(LIBSRC)) $(FZ)/obj/gen/web_assets.o
	@rm -f $@
	$(AR) rcs $@ $^

$(FZ)/obj/gen/web_assets.o: $(B)/gen/web_assets.c
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CF) -fsanitize=fuzzer-no-link -c $< -o $@

$(FZ)/fuzz_%: $(FZ)/obj/tests/fuzz/fuzz_%.o $(FZ)/libkvs-fuzz.a
	$(FUZZ_CC) $(FUZZ_CF) -fsanitize=fuzzer $(LDFLAGS) $(FUZZ_LD_fuzz_$*) -o $@ $^ $(PKG_LD)

$(B)/fuzz-replay/fuzz_%: $(B)/tests/fuzz/fuzz_%.o $(B)/tests/fuzz/replay.o $(B)/libkvs-internal.a
	@mkdir -p $(@D)
	$(CC) $(SAN) $(LDFLAGS) $(FUZZ_LD_fuzz_$*) -o $@ $^ $(PKG_LD)

fuzz: $(addprefix $(FZ)/,$(FUZZ_TARGETS))
	@printf '%s\n' $(FUZZ_TARGETS) | xargs -P $(FUZZ_JOBS) -I{} tests/fuzz/run.sh {} $(FUZZ_TIME)

fuzz-short:
	@mkdir -p $(FZ)
	@if printf 'int LLVMFuzzerTestOneInput(const char *d, unsigned long n) { return 0; }' | \
	    $(FUZZ_CC) -fsanitize=fuzzer -x c - -o $(FZ)/probe >/dev/null 2>&1; then \
	    $(MAKE) --no-print-directory fuzz FUZZ_TIME=$(FUZZ_SHORT_TIME); \
	else echo "fuzz-short: SKIPPED: $(FUZZ_CC) cannot link libFuzzer (tools/deps.sh test)"; fi

fuzz-replay: $(addprefix $(B)/fuzz-replay/,$(FUZZ_TARGETS))
	@for t in $(FUZZ_TARGETS); do $(B)/fuzz-replay/$$t tests/fuzz/corpus/$$t || exit 1; done

test-unit-asan:
ifeq ($(SANITIZE),1)
	@echo "test-unit-asan: test-unit ran with ASan + UBSan already"
else
	@$(MAKE) --no-print-directory SANITIZE=1 test-unit
endif

# the harnesses' objects are kept, not removed as intermediates of the rules above
.SECONDARY: $(patsubst %,$(B)/tests/fuzz/%.o,$(FUZZ_TARGETS) replay) \
            $(patsubst %,$(FZ)/obj/tests/fuzz/%.o,$(FUZZ_TARGETS))
.PHONY: fuzz fuzz-short fuzz-replay test-unit-asan
# --- end of fuzzing and sanitizers ---------------------------------------------------------

# --- crash tests ---------------------------------------------------------------------------
# kill -9 storms and full disks (tests/crash/).
#   make test-crash     part of `make test`: three kill -9 rounds (crash.test.mjs, a few
#                       seconds), the checker's self-test, and the full-disk test, which mounts
#                       a 16 MiB tmpfs (or a loop ext4) and so needs root, as in CI
#   make crashtest      the long run: CRASH_ROUNDS rounds of start, storm of concurrent
#                       PUT/DELETE, kill -9, restart, check every key; CRASH_ARGS passes more
#                       options (--seed N --clients N --keys N, see tests/crash/crash.mjs).
#                       A failing run keeps its data directory under build/crash-tmp/.
#   make crashtest POWER=1   the same with power cuts instead of kill -9: the server runs
#                       under build/powercut.so (tests/crash/powercut.c), and each round's data
#                       directory becomes what a power cut may have left on the disk
#                       (tests/crash/power-loss.test.mjs is its short mode in make test-crash)
CRASH_ROUNDS ?= 30
CRASH_ARGS   ?=

# the journal of writes and flushes the power-loss test builds its disk images from
$(B)/powercut.so: tests/crash/powercut.c
	@mkdir -p $(@D)
	$(CC) $(STD) $(WARN) $(CFLAGS) -shared -fPIC -o $@ $< -ldl -lpthread

test-crash: all $(B)/powercut.so
	KVS_BIN=$(CURDIR)/$(B)/kvs KVS_POWERCUT=$(CURDIR)/$(B)/powercut.so \
	    node --test --test-concurrency=1 tests/crash/

crashtest: all $(B)/powercut.so
	KVS_BIN=$(CURDIR)/$(B)/kvs node tests/crash/crash.mjs --rounds $(CRASH_ROUNDS) \
	    $(if $(POWER),--power-loss $(CURDIR)/$(B)/powercut.so) $(CRASH_ARGS)

.PHONY: test-crash crashtest
# --- end of crash tests --------------------------------------------------------------------

clean:
	rm -rf build

help:
	@echo "make                 build build/kvs"
	@echo "make run             install what is missing, build, start the server on $(LISTEN)"
	@echo "                     with data in $(DATA); LISTEN=HOST:PORT DATA=DIR change them, and"
	@echo "                     ARGS=\"...\" passes more kvs serve options (build/kvs serve --help),"
	@echo "                     e.g. make run LISTEN=0.0.0.0:9000 ARGS=\"--access-log -\""
	@echo "make test            install what is missing, run every test suite"
	@echo "make test SANITIZE=1 the same, built with ASan + UBSan (into build/asan)"
	@echo "make test-unit       C unit tests only;  make test-api  official-client API tests only"
	@echo "make test-console    the web console's browser tests (Chromium)"
	@echo "make screenshots     the console's pictures in docs/"
	@echo "make test-cli        the kvs command line, libkvs examples, export, the Apify CLI"
	@echo "make examples        build the libkvs examples (examples/) into $(B)/examples/"
	@echo "make install         kvs, kvs.h + kvs/client.h, libkvs.a/.so, kvs.pc (PREFIX=$(PREFIX), DESTDIR=);"
	@echo "                     make install PREFIX=~/.local puts kvs in ~/.local/bin, no root needed"
	@echo "make test-pg         API, two-node and fault tests on PostgreSQL (throw-away clusters)"
	@echo "make crashtest       kill -9 storms, 30 rounds (CRASH_ROUNDS=N)"
	@echo "make fuzz            each libFuzzer harness for FUZZ_TIME seconds (default 60)"
	@echo "make bench           wrk vs nginx and the disk's fsync rate (QUICK=1: a smoke run)"
	@echo "make bench-ir        instructions per request under callgrind (IR_ROWS=...)"
	@echo "make bench-bare      libmicrohttpd's suspend/resume per PUT, in a bare server"
	@echo "make clean           remove build/"

-include $(shell find build -name '*.d' 2>/dev/null)
.PHONY: all deps test-deps run test test-unit test-api test-console test-cli screenshots clean help
