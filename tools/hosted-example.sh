#!/bin/sh
# Builds tests/host/example_hosted.c against the hosted library exactly as README.md shows, and
# runs it (it prints TAP).
set -e
cd "$(dirname "$0")/.."
cc -Ibuild/hosted/include tests/host/example_hosted.c build/hosted/libmm.a -o build/hosted/example
exec build/hosted/example
