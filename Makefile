# rmkernel's one entry point: the loader, the kernel, the host tests, the QEMU runs. Plain `make`
# builds the loader and the kernel. Each concern's variables and rules are in mk/ (README "Source
# layout"); this file holds the tools, the flags every part shares, and the targets that span parts.
MAKEFLAGS += -rR
.SUFFIXES:
.DELETE_ON_ERROR:
SHELL := /bin/bash

# Plain `make` builds the loader and the kernel.
.DEFAULT_GOAL := all

B := build
CC := gcc
LD := ld
NASM := nasm
OBJCOPY := objcopy
HCC := gcc
FUZZ_CC := clang

# Warnings are errors in every C flag set: kernel, loader, host tests, hosted library, benchmarks,
# fuzzers, tools.
WARN := -Wall -Wextra -Werror

# Include paths per layer: a directory sees its own headers and those of the layers below it, so
# an include from a layer above is a compile error (tools/check-layers.sh checks the same by name).
# include/ is shared by all; arch/ and mm/ stand on it side by side (mm/ reaches the machine only
# through include/arch_mm.h, the page-table format through include/arch_pte.h and TLB invalidation
# through include/tlb_batch.h); kernel/ sees everything; the loader sees only include/.
# INC_ARCH_PTE is the one deliberate opening of arch/ to the layers beside and above it: the
# architecture's inline page-table format (arch/x86_64/include/arch_pte_impl.h), which
# include/arch_pte.h includes and nothing else may (check-layers), and the kernel's inline CPU index
# (arch_cpu_impl.h, which include/arch_mm.h includes in freestanding builds only). Every build of
# mm/ uses it, so the host tests run the real encoding.
INC_ARCH_PTE := -Iarch/x86_64/include
INC_ARCH := -Iinclude $(INC_ARCH_PTE) -Iarch/x86_64
INC_MM := -Iinclude $(INC_ARCH_PTE) -Imm
INC_KERNEL := -Iinclude $(INC_ARCH_PTE) -Imm -Iarch/x86_64 -Ikernel
INC_BOOT := -Iinclude

include mk/kernel.mk
include mk/loader.mk
include mk/qemu.mk
include mk/host.mk
include mk/bench.mk
include mk/hosted.mk
include mk/image.mk
include mk/fuzz.mk

.PHONY: all test check-layers clean
all: $(B)/kernel.elf $(B)/BOOTX64.EFI

# make test: every test, host and QEMU boot, reported by prove (--directives: skipped tests shown with their reason).
# The build runs two jobs (the machines it must fit have two cores); it also builds what the tests
# would otherwise make themselves (the fuzzers for fuzz-smoke, the plain kernel and loader for
# loader-test), so no two makes run in one tree at once. The tests that run no QEMU (TEST_PAR) run
# two at a time; the QEMU boots then run one at a time, alone (prove runs the tests no --rules
# names last, in sequence), so a boot's guest never shares the two cores with a host test.
TEST_PAR := $(HOST_TESTS) $(TSAN_IN_TEST) tools/shootdown-deletions.sh tools/hosted-example.sh tools/flash-mount-test.sh \
	tools/flash-input-test.sh tools/fuzz-smoke.sh tools/layers-test.sh
TEST_BOOT := tools/boot-test.sh tools/boot-test-verifier.sh tools/fault-test.sh tools/loader-test.sh tools/usb-boot-test.sh \
	tools/screen-test.sh tools/cmdline-boot-test.sh tools/syspte-sizes.sh tools/tlb-test.sh
test: deps
	$(MAKE) -j2 $(HOST_TESTS) $(TSAN_IN_TEST) $(B)/esp-test/kernel.elf $(HOSTED)/libmm.a $(B)/tools/elf-mutate \
		$(FUZZERS) $(B)/kernel.elf $(B)/BOOTX64.EFI
	echo '$(CMDLINE_TEST) $(CMDLINE)' > $(B)/esp-test/cmdline.txt
	prove --directives --exec '' -j2 $(foreach t,$(TEST_PAR),--rules='par=$(t)') $(TEST_PAR) $(TEST_BOOT)

# The layering by name, besides the compiler's include paths: no file includes a header of a layer
# above its own. The kernel's link depends on it.
check-layers: $(B)/layers.ok
$(B)/layers.ok: tools/check-layers.sh $(shell find include arch boot mm kernel tests tools -name '*.[ch]' 2>/dev/null)
	@mkdir -p $(@D)
	tools/check-layers.sh
	touch $@
$(B)/kernel.elf: $(B)/layers.ok

clean:
	rm -rf $(B)

-include $(shell find $(B) -name '*.d' 2>/dev/null)
