# drac - POP-before-SMTP relay gate.  Plain GNU make, no autotools.

PREFIX    ?= /usr/local
SBINDIR   ?= $(PREFIX)/sbin
BINDIR    ?= $(PREFIX)/bin
LIBDIR    ?= $(PREFIX)/lib
INCDIR    ?= $(PREFIX)/include
MANDIR    ?= $(PREFIX)/share/man
DATADIR   ?= $(PREFIX)/share/drac
SYSCONFDIR ?= /etc
DESTDIR   ?=
SYSTEMDUNITDIR ?= $(PREFIX)/lib/systemd/system

CC        ?= cc
PKGS      := libnftnl libmnl libnetfilter_log libnfnetlink libnftables libtirpc libsystemd hiredis
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS  := $(shell pkg-config --libs $(PKGS) 2>/dev/null) -ldb-5.3

CFLAGS    ?= -O2 -g
CFLAGS    += -std=gnu11 -Wall -Wextra -Wshadow -Wno-unused-parameter \
	     -Wstrict-prototypes -Wmissing-prototypes -D_GNU_SOURCE \
	     -Isrc $(PKG_CFLAGS)
LDLIBS    += $(PKG_LIBS)

# make SAN=1 check: the same build and tests under ASan and UBSan.
ifeq ($(SAN),1)
CFLAGS    += -fsanitize=address,undefined -fno-omit-frame-pointer \
	     -fno-sanitize-recover=undefined
LDFLAGS   += -fsanitize=address,undefined
BUILD     := build-san
else
BUILD     := build
endif

# Every src/*.c that has no main() goes into one library that the
# programs, the unit tests and the fuzz targets share.
MAINS     := src/dracd.c src/drac.c src/dracauth_main.c
CORE_SRC  := $(filter-out $(MAINS),$(wildcard src/*.c))
CORE_OBJ  := $(CORE_SRC:src/%.c=$(BUILD)/%.o)
PROGS     := $(BUILD)/dracd $(BUILD)/drac $(if $(wildcard src/dracauth_main.c),$(BUILD)/dracauth)
UNIT_SRC  := $(wildcard tests/unit/test_*.c)
UNIT_BIN  := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)
FUZZ_SRC  := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BIN  := $(FUZZ_SRC:tests/fuzz/%.c=build-fuzz/%)
BENCH_SRC := $(wildcard bench/bench_*.c)
BENCH_BIN := $(BENCH_SRC:bench/%.c=$(BUILD)/bench/%)
# Helpers the benchmark scripts run in their test worlds.
TOOL_SRC  := $(wildcard bench/tool_*.c)
TOOL_BIN  := $(TOOL_SRC:bench/%.c=$(BUILD)/bench/%)

.PHONY: all check unit fuzz fuzz-build bench install uninstall deps clean demo demo-fleet nft

all: $(PROGS) $(BUILD)/libdracauth.a

$(BUILD)/%.o: src/%.c $(wildcard src/*.h) | $(BUILD)
	$(CC) $(CPPFLAGS) $(CFLAGS) -c -o $@ $<

$(BUILD)/libdraccore.a: $(CORE_OBJ)
	$(AR) rcs $@ $^

# The classic client library for post-login hooks and patched servers:
# dracauth(), dracauth6() (src/dracauth.h).
$(BUILD)/libdracauth.a: $(BUILD)/dracauth.o $(BUILD)/addr.o
	$(AR) rcs $@ $^

$(BUILD)/dracd $(BUILD)/drac $(BUILD)/dracauth: $(BUILD)/%: $(BUILD)/%_main.o $(BUILD)/libdraccore.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/dracd_main.o: src/dracd.c $(wildcard src/*.h) | $(BUILD)
	$(CC) $(CPPFLAGS) $(CFLAGS) -c -o $@ $<
$(BUILD)/drac_main.o: src/drac.c $(wildcard src/*.h) | $(BUILD)
	$(CC) $(CPPFLAGS) $(CFLAGS) -c -o $@ $<
$(BUILD)/dracauth_main.o: src/dracauth_main.c $(wildcard src/*.h) | $(BUILD)
	$(CC) $(CPPFLAGS) $(CFLAGS) -c -o $@ $<

$(BUILD)/tests/%: tests/unit/%.c tests/unit/t.h $(BUILD)/libdraccore.a | $(BUILD)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Itests/unit $(LDFLAGS) -o $@ $< $(BUILD)/libdraccore.a $(LDLIBS)

$(BUILD)/bench/%: bench/%.c $(BUILD)/libdraccore.a | $(BUILD)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(BUILD)/libdraccore.a $(LDLIBS)

$(BUILD):
	mkdir -p $@

# The shipped ruleset is what dracd itself loads, printed with the
# default settings (a test checks that they agree): make nft.
nft: $(BUILD)/dracd
	$(BUILD)/dracd -c /dev/null --print-ruleset > nft/drac.nft

unit: $(UNIT_BIN) $(PROGS)

# Fuzz targets: libFuzzer with ASan and UBSan (clang).
FUZZ_CFLAGS := -g -O1 -fsanitize=fuzzer,address,undefined -D_GNU_SOURCE -Isrc $(PKG_CFLAGS)
build-fuzz/%: tests/fuzz/%.c $(CORE_SRC) $(wildcard src/*.h)
	@mkdir -p build-fuzz
	clang $(FUZZ_CFLAGS) -o $@ $< $(CORE_SRC) $(LDLIBS)
fuzz-build: $(FUZZ_BIN)

# make fuzz FUZZ_SECONDS=600: each target for that long.
FUZZ_SECONDS ?= 300
fuzz: fuzz-build
	tests/fuzz/run $(FUZZ_SECONDS) $(FUZZ_BIN)

# check, demo and bench install the dependencies first and only then
# build, in a second make: this one's PKG_CFLAGS and PKG_LIBS were
# computed when it read this file, before tests/deps could install
# pkg-config and the -dev packages (empty on a fresh machine).
check: deps
	$(MAKE) unit
	BUILD=$(BUILD) tests/run

bench: deps
	$(MAKE) all $(BENCH_BIN) $(TOOL_BIN)
	BUILD=$(BUILD) bench/run

demo: deps
	$(MAKE) all
	BUILD=$(BUILD) tests/demo

# The fleet: three hosts sharing grants through a real Redis.
demo-fleet: deps
	$(MAKE) all
	BUILD=$(BUILD) tests/demo-fleet

deps:
	tests/deps

install: all
	install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(BINDIR)
	install -m 755 $(BUILD)/dracd $(BUILD)/drac $(DESTDIR)$(SBINDIR)/
	$(if $(wildcard $(BUILD)/dracauth),install -m 755 $(BUILD)/dracauth $(DESTDIR)$(BINDIR)/)
	install -d $(DESTDIR)$(LIBDIR) $(DESTDIR)$(INCDIR)/drac
	install -m 644 $(BUILD)/libdracauth.a $(DESTDIR)$(LIBDIR)/
	install -m 644 src/dracauth.h src/addr.h $(DESTDIR)$(INCDIR)/drac/
	install -d $(DESTDIR)$(DATADIR)/nft $(DESTDIR)$(DATADIR)/rules
	install -m 644 nft/*.nft $(DESTDIR)$(DATADIR)/nft/
	install -m 644 $(wildcard rules/*) $(DESTDIR)$(DATADIR)/rules/
	install -d -m 755 $(DESTDIR)$(SYSCONFDIR)/dracd
	test -e $(DESTDIR)$(SYSCONFDIR)/dracd/dracd.allow || install -m 644 init/dracd.allow $(DESTDIR)$(SYSCONFDIR)/dracd/dracd.allow
	test -e $(DESTDIR)$(SYSCONFDIR)/dracd/dracd.conf || install -m 644 init/dracd.conf $(DESTDIR)$(SYSCONFDIR)/dracd/dracd.conf
	install -d $(DESTDIR)$(SYSCONFDIR)/default
	test -e $(DESTDIR)$(SYSCONFDIR)/default/dracd || install -m 644 init/dracd.default $(DESTDIR)$(SYSCONFDIR)/default/dracd
	$(if $(wildcard init/dracd.init),install -d $(DESTDIR)$(SYSCONFDIR)/init.d && install -m 755 init/dracd.init $(DESTDIR)$(SYSCONFDIR)/init.d/dracd)
	$(if $(wildcard init/*.service),install -d $(DESTDIR)$(SYSTEMDUNITDIR) && install -m 644 init/*.service $(DESTDIR)$(SYSTEMDUNITDIR)/)
	$(if $(wildcard man/*.[1-8]),for m in man/*.[1-8]; do s=$${m##*.}; install -d $(DESTDIR)$(MANDIR)/man$$s; install -m 644 $$m $(DESTDIR)$(MANDIR)/man$$s/; done)

uninstall:
	rm -f $(DESTDIR)$(SBINDIR)/dracd $(DESTDIR)$(SBINDIR)/drac $(DESTDIR)$(BINDIR)/dracauth
	rm -f $(DESTDIR)$(LIBDIR)/libdracauth.a
	rm -rf $(DESTDIR)$(INCDIR)/drac
	rm -rf $(DESTDIR)$(DATADIR)
	rm -f $(DESTDIR)$(SYSCONFDIR)/init.d/dracd $(DESTDIR)$(SYSTEMDUNITDIR)/dracd*.service
	for m in man/*.[1-8]; do s=$${m##*.}; rm -f $(DESTDIR)$(MANDIR)/man$$s/$${m##*/}; done

clean:
	rm -rf build build-san build-fuzz
