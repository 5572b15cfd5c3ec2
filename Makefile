# The two commands a newcomer needs (see README.md):
#   make run   all functions on http://localhost:8080, embedded defaults, no Google Cloud account
#   make test  installs what a fresh machine lacks, then every test with the emulators required
.PHONY: run test bench

run:
	go run ./functions/cmd/local

test:
	bash .ci/test.sh

# Benchmarks whose figures are in docs/performance.md.
bench:
	bash .ci/bench.sh
