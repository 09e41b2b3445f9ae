# sluice - build, test, demo, bench, install.
# `make` builds ./sluice and build/libsluice.a; `make test` starts the local
# services (scripts/services.sh), runs every test and stops what it started;
# `make asan` does the same with an ASan+UBSan build in build-asan/.

PREFIX    ?= /usr/local
BUILD     ?= build
CC        ?= cc
PKGS      := libpq jansson libcurl lua5.4 libarchive libmicrohttpd openssl avro-c
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)

WARN      := -Wall -Wextra -Wshadow -Wstrict-prototypes -Werror
OPT       ?= -O2 -g
SAN       ?=
CFLAGS    += -std=c11 -D_GNU_SOURCE $(OPT) $(WARN) $(SAN) -pthread -I. $(PKG_CFLAGS) -MMD -MP
LDFLAGS   += $(SAN) -pthread
LDLIBS    += $(PKG_LIBS) -lm

VERSION   := $(shell cat VERSION 2>/dev/null || echo 0.0.0)
GIT_REV   := $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)
CFLAGS    += -DSL_VERSION='"$(VERSION)"' -DSL_GIT_REV='"$(GIT_REV)"'

LIB_SRC   := $(sort $(wildcard runtime/*.c crawler/*.c scheduler/*.c))
CLI_SRC   := $(sort $(wildcard cli/*.c))
TEST_SRC  := $(sort $(wildcard tests/runtime/test_*.c tests/crawler/test_*.c \
                     tests/scheduler/test_*.c tests/integration/test_*.c))
FUZZ_SRC  := $(sort $(wildcard tests/fuzz/fuzz_*.c))

FUZZ_REPLAY := $(patsubst tests/fuzz/%.c,$(BUILD)/tests/fuzz/test_%,$(FUZZ_SRC))
LIB_OBJ   := $(LIB_SRC:%.c=$(BUILD)/obj/%.o)
CLI_OBJ   := $(CLI_SRC:%.c=$(BUILD)/obj/%.o)
TEST_BIN  := $(patsubst %.c,$(BUILD)/%,$(TEST_SRC))
LIB       := $(BUILD)/libsluice.a
BIN       := $(if $(filter build,$(BUILD)),sluice,$(BUILD)/sluice)

.PHONY: all test check asan demo bench install clean lint tests deps fuzz

all: $(BIN)

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c -o $@ $<

$(LIB): $(LIB_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@
	ar rcs $@ $^

$(BIN): $(CLI_OBJ) $(LIB)
	$(CC) $(LDFLAGS) -o $@ $(CLI_OBJ) $(LIB) $(LDLIBS)

$(BUILD)/tests/%: tests/%.c $(LIB) tests/test.h tests/pg_test.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $< $(LIB) $(LDFLAGS) $(LDLIBS)

# Each fuzz target also builds as a plain test that replays its corpus.
$(BUILD)/tests/fuzz/test_%: tests/fuzz/%.c tests/fuzz/replay.c $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $< tests/fuzz/replay.c $(LIB) $(LDFLAGS) $(LDLIBS)

tests: $(BIN) $(TEST_BIN) $(FUZZ_REPLAY)

# The test command of the README: starts PostgreSQL and s3rver if they are not
# running, runs every test binary and script, stops only what it started.
test: deps
	@$(MAKE) --no-print-directory tests
	@SLUICE_BIN=$(abspath $(BIN)) SLUICE_TEST_BUILD=$(abspath $(BUILD)) bash tests/run.sh

check: test

asan: deps
	$(MAKE) BUILD=build-asan OPT="-O1 -g -fno-omit-frame-pointer" \
	    SAN="-fsanitize=address,undefined -fno-sanitize-recover=undefined" test

# libFuzzer runs of every target, FUZZ_SECONDS each (new inputs go to a temp
# folder; crashes are saved in build-fuzz/ and belong in tests/fuzz/corpus/).
FUZZ_SECONDS ?= 60
fuzz: deps
	bash tests/fuzz/run.sh $(FUZZ_SECONDS)

demo: deps
	@$(MAKE) --no-print-directory $(BIN)
	@SLUICE_BIN=$(abspath $(BIN)) bash scripts/demo.sh

# Installs what is missing (Debian packages, the pinned npm tools); a no-op
# when everything is there.
deps:
	@if pkg-config --exists $(PKGS) && [ -x /usr/bin/aws ] && \
	    [ -x .deps/node/node_modules/.bin/s3rver ] && \
	    [ -x /usr/lib/postgresql/15/bin/initdb ]; then :; else \
	    bash scripts/install-deps.sh; fi

bench: $(BIN)
	@bash bench/run.sh

lint:
	@! grep -nE '\b(strtok|strerror|gmtime|localtime|asctime|rand|sprintf|strcpy|strcat)[[:space:]]*\(' \
	    $(LIB_SRC) $(CLI_SRC) $(wildcard runtime/*.h) || { echo "banned function used"; exit 1; }
	@echo "lint: ok"

install: $(BIN)
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/lib $(DESTDIR)$(PREFIX)/include/sluice
	install -m 0755 $(BIN) $(DESTDIR)$(PREFIX)/bin/sluice
	install -m 0644 $(LIB) $(DESTDIR)$(PREFIX)/lib/libsluice.a
	install -m 0644 runtime/*.h $(DESTDIR)$(PREFIX)/include/sluice/

clean:
	rm -rf build build-asan sluice

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
