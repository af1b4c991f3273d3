# The two commands of the README: `make demo` and `make test`. Both install missing system packages first.

CARGO ?= cargo
export CARGO_TERM_COLOR ?= never

.PHONY: all deps build demo test lint fmt bindings bench faults clean

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
