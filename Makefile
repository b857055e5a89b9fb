# The two commands: `make demo` (set up, run the main job) and `make test` (set up, run every gate).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: chromium baresip nginx services demo test serve lint typecheck unit proto bench bench-asr bench-events bench-listen bench-wallboard bench-insights bench-cluster clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

## set up, start the server, stream the bundled demo call into it, print what was stored
demo: $(STAMP)
	$(BIN)/callscope demo

## set up and run every gate: ruff (check + format), mypy --strict, pytest on five workers (warnings = errors);
## the 25 slowest tests are listed at the end. Bytecode is cached (__pycache__, git-ignored) even
## where PYTHONDONTWRITEBYTECODE is set: else each of the run's hundreds of Python processes
## compiles callscope again, and each test worker rewrites and compiles every test module
test: $(STAMP) chromium baresip nginx services
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy
	env -u PYTHONDONTWRITEBYTECODE $(BIN)/pytest -n 5 --dist loadfile --durations=25   # exits 5 when no test ran, which fails this target

## the unit tests only (a few seconds): no server is started (tests/conftest.py refuses to
## start one under CALLSCOPE_TEST_NO_SERVERS), no PostgreSQL, Redis or Chromium needed
.PHONY: quick
quick: $(STAMP)
	CALLSCOPE_TEST_NO_SERVERS=1 $(BIN)/pytest tests/unit -q   # exits 5 when no test ran

## $(call apt_tool,PROGRAM,PACKAGE,WHAT NEEDS IT): install Debian's PACKAGE (as root) unless
## PROGRAM is there; otherwise say which tests need it and how to install it
define apt_tool
@test -x $(1) || { \
  if [ "$$(id -u)" = 0 ]; then \
    (apt-get install -y -q $(2) >/dev/null 2>&1 || \
     (apt-get update -q >/dev/null && apt-get install -y -q $(2) >/dev/null)) && \
    echo "installed $(1)"; \
  else \
    echo "$(3) need $(1): sudo apt-get install $(2)" >&2; exit 1; \
  fi; }
endef

## the dashboard tests drive Debian's Chromium (never a downloaded browser)
chromium:
	$(call apt_tool,/usr/bin/chromium,chromium,the dashboard tests)

## the SIP-phone tests register Debian's baresip (an independent SIP client) with callscope
baresip:
	$(call apt_tool,/usr/bin/baresip,baresip-core,the SIP-phone tests)

## the proxy tests put the shipped deploy/nginx.conf in front of a server (Debian's nginx-light)
nginx:
	$(call apt_tool,/usr/sbin/nginx,nginx-light,the proxy tests)

## the PostgreSQL and cluster tests use 127.0.0.1:5432 (database test) and Redis at
## 127.0.0.1:6379; start either if it is installed but down
services:
	@pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null || { \
	  command -v pg_ctlcluster >/dev/null && [ -d /etc/postgresql ] && \
	  pg_ctlcluster --skip-systemctl-redirect $$(ls /etc/postgresql | head -1) main start && \
	  echo "started PostgreSQL"; } || \
	  { echo "PostgreSQL is not running at 127.0.0.1:5432 and could not be started" >&2; exit 1; }
	@redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1 || { \
	  command -v redis-server >/dev/null && \
	  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no \
	    --dir /tmp --logfile /tmp/callscope-ci-redis.log && sleep 0.5 && \
	  redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null && echo "started Redis"; } || \
	  { echo "Redis is not running at 127.0.0.1:6379 and could not be started" >&2; exit 1; }

serve: $(STAMP)
	$(BIN)/callscope serve

unit: $(STAMP)
	$(BIN)/pytest tests/unit

## regenerate the RingCX gRPC streaming modules from their .proto (grpcio-tools from the dev
## extras, whose gencode matches the protobuf floor in pyproject.toml); protoc writes a
## top-level import into the grpc module, made package-relative here
PROTO_DIR := src/callscope/protocols
proto: $(STAMP)
	$(BIN)/python -m grpc_tools.protoc -I $(PROTO_DIR) --python_out=$(PROTO_DIR) \
	  --pyi_out=$(PROTO_DIR) --grpc_python_out=$(PROTO_DIR) $(PROTO_DIR)/ringcx_streaming.proto
	sed -i.orig 's/^import ringcx_streaming_pb2 as/from . import ringcx_streaming_pb2 as/' \
	  $(PROTO_DIR)/ringcx_streaming_pb2_grpc.py
	rm $(PROTO_DIR)/ringcx_streaming_pb2_grpc.py.orig

bench: $(STAMP)
	$(BIN)/python bench/ingest.py

## transcription: WER through the streaming path, final latency, calls per worker core (~20 min)
bench-asr: $(STAMP)
	$(BIN)/python bench/asr.py --partials

## events: notifications per second to 1/10/50 WebHook subscribers, delay p50/p99 (~3 min)
bench-events: $(STAMP)
	$(BIN)/python bench/events.py

## insights: next-steps precision/recall on the shared scripted calls (script and ASR), time per call
bench-cluster: $(STAMP) services
	$(BIN)/python bench/cluster.py

bench-insights: $(STAMP)
	$(BIN)/python bench/insights.py

## supervisor listen/coach latency at 10, 50, 100 calls, with one stalled device
bench-listen: $(STAMP)
	$(BIN)/python bench/listen.py

## the supervisor's wallboard read (GET /calls/wallboard) at 10, 50, 100 live calls
bench-wallboard: $(STAMP)
	$(BIN)/python bench/wallboard.py

clean:
	rm -rf $(VENV) callscope-data .pytest_cache .mypy_cache .ruff_cache .hypothesis
