#!/bin/sh
# The hosted library as an outside program uses it (tools/hosted-example.sh, in make test):
# 1. build/hosted/include holds the headers as they are now (make hosted copies them again when one
#    changes; it once kept the first build's);
# 2. docs/contract.md's examples as a driver writer copies them, every warning an error but
#    -Wmultichar (the WDK's 'gniR' tags, which the contract and the README say to allow):
#    KeBugCheckEx declared by wdm.h alone, and section 7's looped ring buffer pasted into
#    tests/host/example_contract.c, built and run (it exits non-zero naming what failed, so this
#    script fails before its TAP);
#    README "Hosted library"'s block too, with the hook it names, built and run;
# 3. tests/host/example_hosted.c, first with every warning an error (the example and the headers an
#    outside program includes compile cleanly), then built exactly as README.md shows, and run (it
#    prints TAP).
set -e
cd "$(dirname "$0")/.."
for h in build/hosted/include/*.h; do
	src=$(ls include/"${h##*/}" arch/x86_64/include/"${h##*/}" mm/"${h##*/}" tests/host/"${h##*/}" 2>/dev/null | head -n1)
	cmp -s "$h" "$src" || { echo "hosted-example.sh: $h is not $src: the hosted library is stale" >&2; exit 1; }
done
echo '#include "wdm.h"
VOID stop(void) { KeBugCheckEx(0xDA, 0x101, 0, 0, 0); }' |
	cc -Wall -Wextra -Werror -Wno-multichar -fsyntax-only -Ibuild/hosted/include -x c -
sed -n '/^## 7\./,/^## 8\./p' docs/contract.md | sed -n '/^```c$/,/^```$/{/^```/d;p;}' > build/hosted/contract_ring.inc
grep -q MmAllocateMappingAddressEx build/hosted/contract_ring.inc || { echo "hosted-example.sh: no C block in contract section 7" >&2; exit 1; }
cc -Wall -Wextra -Werror -Wno-multichar -Ibuild/hosted/include -Ibuild/hosted tests/host/example_contract.c \
	build/hosted/libmm.a -o build/hosted/example_contract
build/hosted/example_contract >&2
# README "Hosted library"'s block: its includes, the hook it names, its statements as main's body.
b=$(sed -n '/^## Hosted library/,/^## Benchmarks/p' README.md | sed -n '/^```c$/,/^```$/{/^```/d;p;}')
echo "$b" | grep -q host_machine_create || { echo "hosted-example.sh: no C block in README's Hosted library" >&2; exit 1; }
{ echo "$b" | grep '^#include'
  echo 'static void my_hook(uint32_t code, uint64_t p1, uint64_t p2, uint64_t p3, uint64_t p4)'
  echo '{ (void)code; (void)p1; (void)p2; (void)p3; (void)p4; }'
  echo 'int main(void) {'; echo "$b" | grep -v '^#include'; echo 'return 0; }'; } > build/hosted/readme_hosted.c
cc -Wall -Wextra -Werror -Ibuild/hosted/include build/hosted/readme_hosted.c build/hosted/libmm.a -o build/hosted/readme_hosted
build/hosted/readme_hosted
cc -Wall -Wextra -Werror -fsyntax-only -Ibuild/hosted/include tests/host/example_hosted.c
cc -Ibuild/hosted/include tests/host/example_hosted.c build/hosted/libmm.a -o build/hosted/example
exec build/hosted/example
