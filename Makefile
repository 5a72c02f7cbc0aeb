# ssmtp: a sendmail-compatible, send-only mail client.
# `make` builds ./ssmtp; `make demo` and `make check` install what they
# need (Debian packages) through scripts/deps.sh first.

VERSION    = 3.0
PREFIX    ?= /usr/local
SBINDIR   ?= $(PREFIX)/sbin
MANDIR    ?= $(PREFIX)/share/man
DOCDIR    ?= $(PREFIX)/share/doc/ssmtp
CONFDIR   ?= /etc/ssmtp
SYSCONFDIR ?= /etc
SYSTEMDDIR ?= $(PREFIX)/lib/systemd

CC        ?= cc
PKG_CONFIG ?= pkg-config
PYTHON    ?= /usr/bin/python3

# libcrypto first: the dynamic loader then finds its symbols (most of the
# 4,500 it binds at start-up) one library sooner.
PKGS       = libcrypto libssl libbsd-overlay
DEP_CFLAGS = $(shell $(PKG_CONFIG) --cflags $(PKGS) 2>/dev/null)
DEP_LIBS   = $(shell $(PKG_CONFIG) --libs $(PKGS) 2>/dev/null || echo -lcrypto -lssl -lbsd)

WARN       = -Wall -Wextra -Wshadow -Wpointer-arith -Wstrict-prototypes \
             -Wmissing-prototypes -Wformat=2
CFLAGS    ?= -O2 -g
HARDEN_CFLAGS  = -D_FORTIFY_SOURCE=2 -fstack-protector-strong -fPIE
HARDEN_LDFLAGS = -pie -Wl,-z,relro,-z,now
ALL_CFLAGS = -std=c11 -D_GNU_SOURCE $(WARN) $(CFLAGS) $(DEP_CFLAGS) \
             -DVERSION='"$(VERSION)"' -DSSMTP_CONF_DIR='"$(CONFDIR)"'

SAN_FLAGS  = -O1 -g -fsanitize=address,undefined -fno-sanitize-recover=all \
             -fno-omit-frame-pointer

SRCS = addr.c auth.c bs.c buf.c check.c clock.c config.c deadletter.c hubs.c log.c \
       message.c net.c notice.c paths.c queue.c runq.c secret.c smtp.c tls.c \
       tlscache.c provider.c
MAIN = ssmtp.c
OBJS = $(SRCS:%.c=build/%.o)
SAN_OBJS = $(SRCS:%.c=build/asan/%.o)
HDRS = $(wildcard *.h)

all: ssmtp

ssmtp: $(OBJS) build/ssmtp.o
	$(CC) $(ALL_CFLAGS) $(HARDEN_CFLAGS) $(LDFLAGS) $(HARDEN_LDFLAGS) -o $@ $^ $(DEP_LIBS)

build/%.o: %.c $(HDRS) | build/deps-ok
	$(CC) $(ALL_CFLAGS) $(HARDEN_CFLAGS) $(CPPFLAGS) -c -o $@ $<

build/asan/%.o: %.c $(HDRS) | build/asan
	$(CC) $(ALL_CFLAGS) $(SAN_FLAGS) $(CPPFLAGS) -c -o $@ $<

build build/asan:
	mkdir -p $@

# A plain `make` on a machine without the build dependencies names them
# (and the apt-get line) instead of failing in the compiler or linker.
build/deps-ok: | build
	@CC="$(CC)" PKG_CONFIG="$(PKG_CONFIG)" sh scripts/deps.sh build
	@touch $@

# The same program and unit tests under AddressSanitizer and UBSan.
build/asan/ssmtp: $(SAN_OBJS) build/asan/ssmtp.o
	$(CC) $(ALL_CFLAGS) $(SAN_FLAGS) -o $@ $^ $(DEP_LIBS)

build/unit: $(OBJS) build/unit.o
	$(CC) $(ALL_CFLAGS) $(HARDEN_CFLAGS) $(HARDEN_LDFLAGS) -o $@ $^ $(DEP_LIBS)

build/asan/unit: $(SAN_OBJS) build/asan/unit.o
	$(CC) $(ALL_CFLAGS) $(SAN_FLAGS) -o $@ $^ $(DEP_LIBS)

# The session driver of tests/test_session.py: the engine's API, many
# messages over one connection.
build/session: $(OBJS) build/session.o
	$(CC) $(ALL_CFLAGS) $(HARDEN_CFLAGS) $(HARDEN_LDFLAGS) -o $@ $^ $(DEP_LIBS)

build/asan/session: $(SAN_OBJS) build/asan/session.o
	$(CC) $(ALL_CFLAGS) $(SAN_FLAGS) -o $@ $^ $(DEP_LIBS)

build/session.o: tests/session.c $(HDRS) | build
	$(CC) $(ALL_CFLAGS) $(HARDEN_CFLAGS) -I. -c -o $@ tests/session.c

build/asan/session.o: tests/session.c $(HDRS) | build/asan
	$(CC) $(ALL_CFLAGS) $(SAN_FLAGS) -I. -c -o $@ tests/session.c

build/unit.o: tests/unit.c $(HDRS) | build
	$(CC) $(ALL_CFLAGS) $(HARDEN_CFLAGS) -I. -c -o $@ tests/unit.c

build/asan/unit.o: tests/unit.c $(HDRS) | build/asan
	$(CC) $(ALL_CFLAGS) $(SAN_FLAGS) -I. -c -o $@ tests/unit.c

# libFuzzer harnesses (tests/fuzz/): clang with ASan and UBSan.
FUZZ_CC    ?= clang
FUZZERS     = config addr reply dotenc headers sasl caps bs queue tlscache
FUZZ_FLAGS  = -g -O1 -fsanitize=address,undefined -fno-sanitize-recover=all \
              -fno-omit-frame-pointer
FUZZ_SECONDS ?= 60
FUZZ_SMOKE_SECONDS ?= 4
FUZZ_OBJS  = $(SRCS:%.c=build/fuzz/%.o)
FUZZ_BINS  = $(FUZZERS:%=build/fuzz/fuzz_%)

build/fuzz:
	mkdir -p $@

build/fuzz/%.o: %.c $(HDRS) | build/fuzz
	$(FUZZ_CC) $(ALL_CFLAGS) $(FUZZ_FLAGS) -fsanitize=fuzzer-no-link -c -o $@ $<

build/fuzz/fuzz_%: tests/fuzz/fuzz_%.c $(FUZZ_OBJS) $(HDRS)
	$(FUZZ_CC) $(ALL_CFLAGS) $(FUZZ_FLAGS) -fsanitize=fuzzer -I. -o $@ $< \
	    $(FUZZ_OBJS) $(DEP_LIBS)

# Run every harness for FUZZ_SECONDS; new inputs collect in build/fuzz/.
fuzz: deps $(FUZZ_BINS)
	@for f in $(FUZZERS); do \
	    mkdir -p build/fuzz/corpus-$$f; \
	    echo "== fuzz_$$f for $(FUZZ_SECONDS) s"; \
	    ./build/fuzz/fuzz_$$f -max_total_time=$(FUZZ_SECONDS) \
	        -print_final_stats=1 -max_len=65536 \
	        build/fuzz/corpus-$$f tests/fuzz/corpus/$$f 2>&1 | \
	        grep -E "^(stat::number_of_executed_units|stat::peak_rss|==|SUMMARY|#.*DONE)" \
	        || exit 1; \
	done

# libFuzzer adds what it finds to the first folder: a scratch one, so the
# seeds in tests/fuzz/corpus stay as committed.
fuzz-smoke: $(FUZZ_BINS)
	@for f in $(FUZZERS); do \
	    rm -rf build/fuzz/smoke-corpus-$$f; mkdir -p build/fuzz/smoke-corpus-$$f; \
	    ./build/fuzz/fuzz_$$f -max_total_time=$(FUZZ_SMOKE_SECONDS) \
	        -max_len=16384 build/fuzz/smoke-corpus-$$f tests/fuzz/corpus/$$f \
	        >build/fuzz/smoke-$$f.log 2>&1 \
	        || { tail -40 build/fuzz/smoke-$$f.log; exit 1; }; \
	    echo "fuzz_$$f: $$(grep -o 'DONE.*' build/fuzz/smoke-$$f.log || tail -1 build/fuzz/smoke-$$f.log)"; \
	done

deps:
	@sh scripts/deps.sh

demo: deps
	@$(MAKE) -s all
	@sh scripts/demo.sh

# The benchmark against Debian's msmtp and sSMTP (bench/), as root.
bench:
	@sh scripts/deps.sh bench
	@$(MAKE) -s all bench/sink
	@$(PYTHON) bench/bench.py

# The benchmark's hub, in C so that the hub is not what gets measured.
bench/sink: bench/sink.c
	$(CC) $(ALL_CFLAGS) -o $@ bench/sink.c $(DEP_LIBS)

# Every test: unit tests and integration tests, plain and sanitized.
check: deps
	@$(MAKE) -s all build/unit build/asan/ssmtp build/asan/unit \
	    build/session build/asan/session bench/sink build/ssmtp.conf.seed
	@echo "== unit tests"
	@./build/unit
	@echo "== unit tests (ASan + UBSan)"
	@./build/asan/unit
	@echo "== fuzz smoke ($(FUZZ_SMOKE_SECONDS) s each, ASan + UBSan)"
	@$(MAKE) -s fuzz-smoke
	@echo "== man pages (mandoc -Tlint)"
	@mandoc -Tlint -W warning man/ssmtp.8 man/ssmtp.conf.5 man/revaliases.5
	@echo "== integration tests (release and ASan + UBSan builds)"
	@cd tests && $(PYTHON) -m pytest -q -p no:cacheprovider

# source:mode:installed path, for install and uninstall.
QUEUE_FILES = \
    ssmtp-queue.service:644:$(SYSTEMDDIR)/system/ssmtp-queue.service \
    ssmtp-queue.timer:644:$(SYSTEMDDIR)/system/ssmtp-queue.timer \
    user/ssmtp-queue.service:644:$(SYSTEMDDIR)/user/ssmtp-queue.service \
    user/ssmtp-queue.timer:644:$(SYSTEMDDIR)/user/ssmtp-queue.timer \
    ssmtp-queue.cron:644:$(SYSCONFDIR)/cron.d/ssmtp-queue \
    ssmtp-queue.networkd:755:$(SYSCONFDIR)/networkd-dispatcher/routable.d/50-ssmtp-queue \
    ssmtp-queue.networkd:755:$(SYSCONFDIR)/NetworkManager/dispatcher.d/50-ssmtp-queue

# Into the real root (no DESTDIR) as root, install does what the Debian
# package does: the binary setgid mail (2755 root:mail), /etc/ssmtp 0750
# root:mail, and a commented ssmtp.conf (0640 root:mail) only when there
# is none.  INSTALL_PERMS=no and INSTALL_CONFIG=no turn those off (for
# packagers); =yes turns them on into a DESTDIR.
ROOT_INSTALL  := $(if $(DESTDIR),no,$(shell [ "$$(id -u)" = 0 ] && echo yes || echo no))
INSTALL_PERMS ?= $(ROOT_INSTALL)
INSTALL_CONFIG ?= $(if $(DESTDIR),no,yes)
DATADIR   ?= $(PREFIX)/share/ssmtp
MAN8_LINKS = sendmail mailq newaliases

# The config a fresh install gets: the example, every line commented.
build/ssmtp.conf.seed: ssmtp.conf.example | build
	sed -e 's/^\(Mailhub\|UseSTARTTLS\)=/#&/' ssmtp.conf.example >$@

install: ssmtp build/ssmtp.conf.seed
	install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(MANDIR)/man5 \
	    $(DESTDIR)$(MANDIR)/man8 $(DESTDIR)$(DOCDIR) $(DESTDIR)$(DATADIR)
	install -m 755 ssmtp $(DESTDIR)$(SBINDIR)/ssmtp
	for l in sendmail mailq newaliases; do \
	    ln -sf ssmtp $(DESTDIR)$(SBINDIR)/$$l; done
	if [ "$(PREFIX)" = /usr ]; then install -d $(DESTDIR)/usr/lib && \
	    ln -sf ../sbin/sendmail $(DESTDIR)/usr/lib/sendmail; fi
	install -m 644 man/ssmtp.8 $(DESTDIR)$(MANDIR)/man8/ssmtp.8
	for l in $(MAN8_LINKS); do \
	    ln -sf ssmtp.8 $(DESTDIR)$(MANDIR)/man8/$$l.8; done
	install -m 644 man/ssmtp.conf.5 $(DESTDIR)$(MANDIR)/man5/ssmtp.conf.5
	install -m 644 man/revaliases.5 $(DESTDIR)$(MANDIR)/man5/revaliases.5
	install -m 644 ssmtp.conf.example revaliases $(DESTDIR)$(DOCDIR)/
	install -m 644 build/ssmtp.conf.seed $(DESTDIR)$(DATADIR)/ssmtp.conf
	@# The queue's runners (Queue=YES): timers, network hooks, cron.
	install -d $(DESTDIR)$(SYSTEMDDIR)/system $(DESTDIR)$(SYSTEMDDIR)/user \
	    $(DESTDIR)$(SYSCONFDIR)/cron.d \
	    $(DESTDIR)$(SYSCONFDIR)/networkd-dispatcher/routable.d \
	    $(DESTDIR)$(SYSCONFDIR)/NetworkManager/dispatcher.d
	for f in $(QUEUE_FILES); do \
	    set -- $$(echo $$f | tr : ' '); \
	    sed 's|@SBINDIR@|$(SBINDIR)|g' dist/$$1 >$(DESTDIR)$$3 && \
	    chmod $$2 $(DESTDIR)$$3 || exit 1; done
	install -d $(DESTDIR)$(CONFDIR)
	if [ "$(INSTALL_CONFIG)" = yes ]; then \
	    for f in ssmtp.conf:build/ssmtp.conf.seed revaliases:revaliases; do \
	        t=$(DESTDIR)$(CONFDIR)/$${f%%:*}; \
	        [ -e $$t ] || install -m 640 $${f#*:} $$t || exit 1; \
	    done; fi
	if [ "$(INSTALL_PERMS)" = yes ]; then \
	    chgrp mail $(DESTDIR)$(SBINDIR)/ssmtp $(DESTDIR)$(CONFDIR) && \
	    chmod 2755 $(DESTDIR)$(SBINDIR)/ssmtp && \
	    chmod 750 $(DESTDIR)$(CONFDIR) || exit 1; \
	    for f in ssmtp.conf revaliases; do \
	        [ ! -f $(DESTDIR)$(CONFDIR)/$$f ] || \
	        [ "$$(stat -c %U:%G $(DESTDIR)$(CONFDIR)/$$f)" != root:root ] || \
	        { chgrp mail $(DESTDIR)$(CONFDIR)/$$f && \
	          chmod 640 $(DESTDIR)$(CONFDIR)/$$f; } || exit 1; \
	    done; fi

# The Debian package (debian/), built in a copy of the tree under
# build/deb so that the package build's clean step never touches this
# one; never runs make check.
DEB_DIR = build/deb
deb:
	@sh scripts/deps.sh deb
	rm -rf $(DEB_DIR)
	mkdir -p $(DEB_DIR)/ssmtp-$(VERSION)
	{ git ls-files -co --exclude-standard 2>/dev/null || \
	    find . -path ./build -prune -o -path ./.git -prune -o -type f \
	    ! -name ssmtp ! -name sink -print; } | \
	    while read -r f; do [ -e "$$f" ] && echo "$$f"; done | \
	    tar -cf - -T - | tar -C $(DEB_DIR)/ssmtp-$(VERSION) -xf -
	cd $(DEB_DIR)/ssmtp-$(VERSION) && dpkg-buildpackage -us -uc -b
	@ls $(DEB_DIR)/*.deb

# What install put, and nothing else: the config only while it is still
# the seed install wrote (an admin's edits are theirs).
uninstall:
	rm -f $(DESTDIR)$(SBINDIR)/ssmtp $(DESTDIR)$(SBINDIR)/sendmail \
	    $(DESTDIR)$(SBINDIR)/mailq $(DESTDIR)$(SBINDIR)/newaliases \
	    $(DESTDIR)$(MANDIR)/man8/ssmtp.8 \
	    $(DESTDIR)$(MANDIR)/man5/ssmtp.conf.5 \
	    $(DESTDIR)$(MANDIR)/man5/revaliases.5 \
	    $(DESTDIR)$(DOCDIR)/ssmtp.conf.example $(DESTDIR)$(DOCDIR)/revaliases \
	    $(DESTDIR)$(DATADIR)/ssmtp.conf
	for l in $(MAN8_LINKS); do \
	    [ "$$(readlink $(DESTDIR)$(MANDIR)/man8/$$l.8)" != ssmtp.8 ] || \
	    rm -f $(DESTDIR)$(MANDIR)/man8/$$l.8; done
	-rmdir $(DESTDIR)$(DOCDIR) $(DESTDIR)$(DATADIR) 2>/dev/null
	for f in $(QUEUE_FILES); do rm -f $(DESTDIR)$${f##*:}; done
	if [ "$(PREFIX)" = /usr ] && [ -L $(DESTDIR)/usr/lib/sendmail ] && \
	    [ "$$(readlink $(DESTDIR)/usr/lib/sendmail)" = ../sbin/sendmail ]; \
	    then rm -f $(DESTDIR)/usr/lib/sendmail; fi
	if [ -f build/ssmtp.conf.seed ] && \
	    cmp -s build/ssmtp.conf.seed $(DESTDIR)$(CONFDIR)/ssmtp.conf; \
	    then rm -f $(DESTDIR)$(CONFDIR)/ssmtp.conf; fi
	if cmp -s revaliases $(DESTDIR)$(CONFDIR)/revaliases; \
	    then rm -f $(DESTDIR)$(CONFDIR)/revaliases; fi
	-rmdir $(DESTDIR)$(CONFDIR) 2>/dev/null

clean:
	rm -rf build ssmtp bench/sink tests/__pycache__

.PHONY: all deps demo check install uninstall clean fuzz fuzz-smoke bench deb
