# Xinren: `make run` starts the whole stack, `make test` runs the whole suite. Both set everything up first.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
UV_VERSION := 0.13.9
SERVICES := shared services/order services/refund services/quality-check services/notify services/trust
STAMP := $(VENV)/.installed

.PHONY: help venv run test faults e2e infra-up infra-down token clean bench tools check-deploy

help:
	@echo "make run      Kafka, PostgreSQL and the five services in the foreground (Ctrl-C stops all)"
	@echo "make test     the whole suite against real Kafka and PostgreSQL"
	@echo "make faults   the fault scenarios (services killed, broker and database restarted) against real servers"
	@echo "make token ROLE=buyer SUB=u1 [SHOP_ID=..] [WAREHOUSE_ID=..] [SHOPS=a,b] [CARRIERS=sf,yto]   a dev JWT for make run"
	@echo "make infra-up / infra-down   only Kafka and PostgreSQL (state in .run/)"
	@echo "make tools    fetch the pinned check tools (helm, kubeconform, promtool, redocly) into the cache"
	@echo "make check-deploy   helm lint + kubeconform, promtool, redocly lint of the OpenAPI (also part of make test)"
	@echo "make bench [VS=<old checkout>] [QUICK=1]   the benchmark suite: JSON and plots in bench/results/"

$(STAMP): constraints.txt requirements-dev.in $(foreach d,$(SERVICES),$(d)/pyproject.toml)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q "uv==$(UV_VERSION)"
	$(BIN)/uv pip install -q --python $(BIN)/python -c constraints.txt -r requirements-dev.in $(foreach d,$(SERVICES),-e $(d))
	touch $(STAMP)

venv: $(STAMP)

run: $(STAMP)
	bash scripts/run.sh

test: $(STAMP)
	bash scripts/test.sh

# The fault scenarios start a Kafka broker and a PostgreSQL server of their own (they kill and restart them), on free
# ports, and stop them at the end; sizes from XINREN_FAULTS_* (see docs/FAULTS.md), figures in .run/faults/report.json.
faults: $(STAMP)
	$(BIN)/pytest tests/faults $(PYTEST_ARGS)

tools:
	bash deploy/tools.sh fetch

check-deploy: $(STAMP) tools
	$(BIN)/pytest tests/platform/test_helm_chart.py tests/platform/test_observability.py tests/platform/test_openapi.py -q

infra-up:
	bash infra/up.sh

infra-down:
	bash infra/down.sh

token: $(STAMP)
	@$(BIN)/xinren-token --role "$(ROLE)" --sub "$(SUB)" $(if $(SHOP_ID),--shop-id "$(SHOP_ID)") $(if $(WAREHOUSE_ID),--warehouse-id "$(WAREHOUSE_ID)") $(if $(SHOPS),--shops "$(SHOPS)") $(if $(CARRIERS),--carriers "$(CARRIERS)")

# The benchmark suite (docs/BENCHMARKS.md): VS=<another checkout> adds its backbone for the ratio, QUICK=1 runs
# each part for a few seconds. Never part of make test.
bench: $(STAMP)
	$(BIN)/python bench/suite.py $(if $(VS),--vs $(VS)) $(if $(QUICK),--quick)

clean:
	bash infra/down.sh || true
	rm -rf .run $(VENV)
