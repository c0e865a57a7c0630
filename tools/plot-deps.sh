#!/bin/sh
# Checks for gnuplot, which make plots and make region-picture use (not needed by make test, so
# tools/install-deps.sh does not install it); prints the command to install it when it is missing.
command -v gnuplot >/dev/null 2>&1 && exit 0
echo "gnuplot is missing: run  sudo apt-get install -y gnuplot-nox" >&2
exit 1
