#!/bin/sh
# Builds tests/host/example_hosted.c against the hosted library exactly as README.md shows, and
# runs it (it prints TAP). First the same source with every warning an error: the example and the
# headers an outside program includes compile cleanly.
set -e
cd "$(dirname "$0")/.."
cc -Wall -Wextra -Werror -fsyntax-only -Ibuild/hosted/include tests/host/example_hosted.c
cc -Ibuild/hosted/include tests/host/example_hosted.c build/hosted/libmm.a -o build/hosted/example
exec build/hosted/example
