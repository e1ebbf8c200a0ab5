# vvf — two commands: `make demo` and `make test`. Each installs what is missing first.
SHELL := /bin/bash
.DEFAULT_GOAL := help
export VVF_CACHE_DIR ?= $(CURDIR)/.cache
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
DEMO_DIR := $(VVF_CACHE_DIR)/demo

.PHONY: help setup system-deps node-deps build demo test lint typecheck fixtures clean

help:
	@echo "make demo   set up, make a small DASH sample, inspect it and serve it as a progressive MP4"
	@echo "make test   set up, then typecheck, lint and run the whole test suite"

# Debian packages: ffmpeg (fixtures, the reference for every media test), curl (a real HTTP client in tests),
# chromium (a real browser plays and seeks a served file; Debian's build has H.264 and AAC),
# redis-server (the tests start their own, on loopback, for the shared store), g++ (the native addon),
# fuse3 (fusermount3: mounting as a user that is not root; root mounts with mount(2) itself),
# attr (getfattr: the mount tests read extended attributes as a user would).
system-deps:
	@missing=""; \
	command -v ffmpeg >/dev/null && command -v ffprobe >/dev/null || missing="$$missing ffmpeg"; \
	command -v curl >/dev/null || missing="$$missing curl"; \
	command -v chromium >/dev/null || missing="$$missing chromium"; \
	command -v redis-server >/dev/null || missing="$$missing redis-server"; \
	command -v g++ >/dev/null || missing="$$missing g++"; \
	command -v fusermount3 >/dev/null || missing="$$missing fuse3"; \
	command -v getfattr >/dev/null || missing="$$missing attr"; \
	if [ -n "$$missing" ]; then \
	  echo "installing$$missing from Debian's packages"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing >/dev/null; \
	fi

# npm packages, exactly as the lockfile pins them, when node_modules is missing or older than it.
node-deps:
	@if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then npm ci --no-audit --no-fund; fi

# The native addon (native/send-pieces.c: sendfile for serving) with node-gyp, which npm
# brings, against Node's own headers; then the TypeScript.
build: node-deps
	@npm run --silent build:native >/dev/null
	@npx tsc -p tsconfig.build.json

setup: system-deps node-deps build

demo: setup
	@bash scripts/demo-sample.sh "$(DEMO_DIR)"
	@echo
	@echo "$$ vvf inspect $(DEMO_DIR)/dash/manifest.mpd"
	@node dist/cli/main.js inspect "$(DEMO_DIR)/dash/manifest.mpd"
	@echo
	@# VVF_DEMO_CHECK=1: serve on a free port, fetch a range, probe it over HTTP, stop (CI runs this).
	@if [ "$${VVF_DEMO_CHECK:-}" = 1 ]; then bash scripts/demo-check.sh "$(DEMO_DIR)"; exit $$?; fi; \
	echo "$$ vvf serve --root $(DEMO_DIR) --register $(DEMO_DIR)/progressive.json    (Ctrl-C stops it)"; \
	node dist/cli/main.js serve --root "$(DEMO_DIR)" --port $${VVF_PORT:-8080} --register "$(DEMO_DIR)/progressive.json"

typecheck: node-deps
	@npx tsc -p tsconfig.json --noEmit

lint: node-deps
	@npx biome check src test scripts bench

fixtures: setup
	@npx tsx scripts/fixtures.ts

test: setup typecheck lint
	@node scripts/run-tests.mjs

.PHONY: bench
# The DASH → progressive benchmark (vvf issue 3); writes bench/RESULTS.md. Needs about 3 GB of disk.
bench: setup
	@npx tsx bench/run.ts

.PHONY: bench-serve
# vvf serve against nginx serving the same bytes (vvf issue 4); writes bench/RESULTS-serve.md. wrk and nginx are
# installed here, not in system-deps, so that `make test` does not pay for them. Needs about 5 GB of disk.
bench-serve: setup
	@command -v wrk >/dev/null && command -v nginx >/dev/null || { $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq wrk nginx-light >/dev/null; }
	@npx tsx bench/serve.ts

.PHONY: bench-mount
# Reading the one-hour virtual file through vvf mount beside the materialized file and bindfs (vvf issue 8);
# writes bench/RESULTS-mount.md. Root (drops the page cache). bindfs is installed here, not in system-deps.
bench-mount: setup
	@command -v bindfs >/dev/null || { $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq bindfs >/dev/null; }
	@npx tsx bench/mount.ts

clean:
	rm -rf dist .cache
