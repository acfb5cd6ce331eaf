# The two commands of the quick start: `make demo` and `make test`.
.PHONY: install demo test lint bench screenshots

install:
	bash scripts/setup.sh

# Install, then make an image on the embedded default (no key, no network).
demo: install
	.venv/bin/triptych generate "two cats on a blue background" --seed 7
	.venv/bin/triptych credits

# Install, start the local services, lint, then run every test.
test: install
	bash scripts/services.sh
	.venv/bin/ruff check src tests benchmarks
	.venv/bin/python -m pytest -q

lint:
	.venv/bin/ruff check src tests benchmarks

bench: install
	.venv/bin/python benchmarks/service_overhead.py

# Retake the web studio's screenshots (browser tests) and copy those docs/studio.md shows.
screenshots: install
	.venv/bin/python -m pytest -q tests/web/pages
	.venv/bin/python scripts/docs_screenshots.py
