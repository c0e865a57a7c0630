# ---------------------------------------------------------------- benchmarks (numbers, not tests)
# Optimised like the kernel (-O2), without sanitizers.
BENCH_CFLAGS := -std=gnu11 -O2 -g $(WARN) -pthread -Iinclude $(INC_ARCH_PTE) -Imm -Itests/host -Itests/common -MMD -MP
BENCHES := $(patsubst tests/bench/%.c,$(B)/bench/%,$(wildcard tests/bench/*.c))
.PHONY: bench plots bench-boot bench-shootdown bench-leaf bench-misses
$(B)/bench/%: tests/bench/%.c $(MM_SRC) $(HOST_SUPPORT)
	@mkdir -p $(@D)
	$(HCC) $(BENCH_CFLAGS) $< $(MM_SRC) $(HOST_SUPPORT) -o $@
# The per-CPU caches' benchmark links the hosted library, as an outside program would (mk/hosted.mk).
$(B)/bench/bench_pcpu: tests/bench/bench_pcpu.c $(B)/hosted/libmm.a
	@mkdir -p $(@D)
	$(HCC) -std=gnu11 -O2 -g $(WARN) -pthread -I$(B)/hosted/include -MMD -MP $< $(B)/hosted/libmm.a -o $@
bench: $(BENCHES)
	@for b in $(BENCHES); do echo "== $$b"; $$b || exit 1; done

# make plots: PNGs in docs/ from the benchmarks (tools/plots.sh): occupancy sweep, map/unmap by
# size, boot against RAM. Needs gnuplot (tools/plot-deps.sh says how to install it).
plots: deps $(BENCHES)
	$(MAKE) $(B)/esp-test/kernel.elf
	echo '$(CMDLINE_TEST) $(CMDLINE)' > $(B)/esp-test/cmdline.txt
	tools/plots.sh

# Boot time and QEMU resident size with 2 and 16 GiB of RAM (must not grow with RAM), then with
# syspte=1G and syspte=512G on 512 MiB (must not grow with the region; tools/bench-boot.sh).
bench-boot: deps
	$(MAKE) $(B)/esp-test/kernel.elf
	echo '$(CMDLINE_TEST) $(CMDLINE)' > $(B)/esp-test/cmdline.txt
	tools/bench-boot.sh

# The cost of an unmap's TLB shootdown with 1, 2 and 4 CPUs (tools/bench-shootdown.sh; TCG numbers).
bench-shootdown: deps
	$(MAKE) $(B)/esp-test/kernel.elf
	tools/bench-shootdown.sh

# Map + unmap of a 2 MiB run as one 2 MiB leaf against 512 4 KiB PTEs, with and without a read of
# every page, in one boot on the kernel's own tables (tools/bench-leaf.sh; TCG numbers).
bench-leaf: deps
	$(MAKE) $(B)/esp-test/kernel.elf
	tools/bench-leaf.sh

# Cache misses per reserve/free call at 2^18 and 2^22 pages, by function (tools/region-misses.sh:
# cachegrind with a last level the size of one core's L2; needs valgrind).
bench-misses:
	tools/region-misses.sh
