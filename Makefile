# mailops.notify — developer entry points. See README.md.
SHELL := /bin/bash
.DEFAULT_GOAL := help

.PHONY: help demo demo-down test setup lint sanity package unit integration molecule lab-image lab-clean build clean

help: ## Show the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

demo: ## Bring up the lab and run playbooks/configure_notifications.yml against `appliance`, then show the evidence
	@tests/run.sh setup demo

demo-down: ## Remove the demo lab
	@tests/run.sh demo_down

test: ## Install what is needed, then run lint, sanity, unit, integration and molecule, with a summary
	@tests/run.sh

setup: ## Install Debian packages and the virtual environment only
	@tests/run.sh setup

lint sanity package unit integration molecule: ## Run one step (after `make setup`)
	@tests/run.sh $@

lab-image: ## Build (or reuse) the lab image for MAILOPS_LAB_SUITE (bookworm | trixie)
	@lab/lab.sh image $${MAILOPS_LAB_SUITE:-bookworm}

lab-clean: ## Remove lab containers, networks and volumes
	@lab/lab.sh clean

build: ## Build the collection tarball into build/
	@mkdir -p build && .venv/bin/ansible-galaxy collection build --force --output-path build .

clean: ## Remove the virtual environment and caches (lab images included)
	@lab/lab.sh clean 2>/dev/null || true
	@# podman keeps its overlay storage mounted; unmount it so that the cache can go.
	@if mountpoint -q .cache/podman/storage/overlay 2>/dev/null; then umount .cache/podman/storage/overlay; fi
	@rm -rf .venv .cache build tests/output
