# The two commands of the README: `make demo` and `make test`. Both install missing system packages first.

CARGO ?= cargo
export CARGO_TERM_COLOR ?= never

.PHONY: all deps build demo test lint fmt bindings bench faults clean install uninstall

all: build

deps:
	@bash scripts/install-deps.sh

build: deps
	$(CARGO) build --release --bins

demo: build
	@bash scripts/demo.sh

lint: deps
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

test: lint
	$(CARGO) test --workspace

fmt:
	$(CARGO) fmt --all

# Regenerate the committed -sys bindings from the installed headers (needs libclang-dev).
bindings:
	$(CARGO) xtask bindgen

bench: build
	$(CARGO) run --release -p wimpatch-benches --bin wimpatch-bench -- $(BENCH_ARGS)

# SIGKILL every writing verb at random points, 20 runs each: old or new state, never a mix, and the
# next writer recovers. `make test` runs a 3-run form (tests/e2e/faults.rs).
faults: build
	$(CARGO) run --release -p wimpatch-benches --bin wimpatch-faults -- --runs 20 $(FAULTS_ARGS)

clean:
	$(CARGO) clean

# `make install [PREFIX=/usr/local] [DESTDIR=]`: the binary, one man page per command, shell
# completions, the systemd units of contrib/systemd (their paths rewritten for PREFIX) and the
# sysusers.d/tmpfiles.d entries that create the `wimpatch` user and /srv/wimpatch they expect, and the
# drop-in example that opens directory DPs outside /srv/wimpatch to them (doc/wimpatch/dp-paths.conf).
# WIMPATCH_BIN names another binary to install (the tests install the debug build); the default
# builds the release binary first.
PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
MANDIR ?= $(PREFIX)/share/man
DATADIR ?= $(PREFIX)/share
UNITDIR ?= $(PREFIX)/lib/systemd/system
SYSUSERSDIR ?= $(PREFIX)/lib/sysusers.d
TMPFILESDIR ?= $(PREFIX)/lib/tmpfiles.d
DOCDIR ?= $(DATADIR)/doc/wimpatch
WIMPATCH_BIN ?= target/release/wimpatch

ifeq ($(WIMPATCH_BIN),target/release/wimpatch)
install: build
endif
install:
	install -Dm755 $(WIMPATCH_BIN) $(DESTDIR)$(BINDIR)/wimpatch
	$(WIMPATCH_BIN) --no-progress --quiet manpages $(DESTDIR)$(MANDIR)/man1 >/dev/null
	install -d $(DESTDIR)$(DATADIR)/bash-completion/completions $(DESTDIR)$(DATADIR)/zsh/site-functions \
	  $(DESTDIR)$(DATADIR)/fish/vendor_completions.d
	$(WIMPATCH_BIN) completions bash > $(DESTDIR)$(DATADIR)/bash-completion/completions/wimpatch
	$(WIMPATCH_BIN) completions zsh > $(DESTDIR)$(DATADIR)/zsh/site-functions/_wimpatch
	$(WIMPATCH_BIN) completions fish > $(DESTDIR)$(DATADIR)/fish/vendor_completions.d/wimpatch.fish
	install -d $(DESTDIR)$(UNITDIR)
	for u in contrib/systemd/*.service contrib/systemd/*.timer; do \
	  sed 's|/usr/local/bin/wimpatch|$(BINDIR)/wimpatch|g' $$u > $(DESTDIR)$(UNITDIR)/$$(basename $$u); \
	  chmod 644 $(DESTDIR)$(UNITDIR)/$$(basename $$u); \
	done
	install -Dm644 contrib/systemd/wimpatch.sysusers $(DESTDIR)$(SYSUSERSDIR)/wimpatch.conf
	install -Dm644 contrib/systemd/wimpatch.tmpfiles $(DESTDIR)$(TMPFILESDIR)/wimpatch.conf
	install -Dm644 contrib/systemd/dp-paths.conf $(DESTDIR)$(DOCDIR)/dp-paths.conf

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/wimpatch $(DESTDIR)$(MANDIR)/man1/wimpatch.1 $(DESTDIR)$(MANDIR)/man1/wimpatch-*.1
	rm -f $(DESTDIR)$(DATADIR)/bash-completion/completions/wimpatch $(DESTDIR)$(DATADIR)/zsh/site-functions/_wimpatch
	rm -f $(DESTDIR)$(DATADIR)/fish/vendor_completions.d/wimpatch.fish
	rm -f $(DESTDIR)$(UNITDIR)/wimpatch-site.service $(DESTDIR)$(UNITDIR)/wimpatch-site-tick.service
	rm -f $(DESTDIR)$(UNITDIR)/wimpatch-site-tick.timer
	rm -f $(DESTDIR)$(SYSUSERSDIR)/wimpatch.conf $(DESTDIR)$(TMPFILESDIR)/wimpatch.conf
	rm -f $(DESTDIR)$(DOCDIR)/dp-paths.conf
