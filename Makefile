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

.PHONY: all test check-layers clean help
all: $(B)/kernel.elf $(B)/BOOTX64.EFI

# make help: the README's two commands and its table of other targets, as plain text.
help:
	@sed -n 's/^    \(make [a-z]*\) *# \(.*\)/\1\t\2/p' README.md | sed -n '1,2p'
	@sed -n '/^| command | what it does |$$/,/^$$/p' README.md | sed -n 's/^| \(`[^|]*`\) | \(.*\) |$$/\1\t\2/p' | tr -d '`'
	@echo 'More in README.md (docs/contract.md: the API; docs/design.md: how it is built).'

# make test: every test, host and QEMU boot, reported by prove (--directives: skipped tests shown with their reason).
# The build runs two jobs (the machines it must fit have two cores); it also builds what the tests
# would otherwise make themselves (the fuzzers for fuzz-smoke, the plain kernel and loader for
# loader-test, the test loaders for ragged-map-test, badgeom-map-test and hostile-fw-test), so no two makes run in one tree at once.
# The tests then run in four lanes, each lane's tests one at a time, two lanes at once (prove -j2;
# a --rules seq group is a lane, and prove starts a lane's next test only when no lane listed
# before it can start one): the QEMU boots, the threaded and scripted host tests (among them
# ragged-map-test's and hostile-fw-test's one short boot each), and the host tests in two halves. So the boots, the longest
# lane, run from the start beside one host lane, and the halves share the cores once a lane ends.
TEST_BOOT := tools/boot-test.sh tools/boot-test-verifier.sh tools/fault-test.sh tools/loader-test.sh tools/usb-boot-test.sh \
	tools/screen-test.sh tools/cmdline-boot-test.sh tools/syspte-sizes.sh tools/tlb-test.sh
TEST_SIDE := $(TSAN_IN_TEST) tools/shootdown-deletions.sh tools/fuzz-smoke.sh tools/layers-test.sh tools/hosted-example.sh \
	tools/adapter-test.sh tools/flash-mount-test.sh tools/flash-input-test.sh tools/install-deps-test.sh tools/docs-refs-test.sh tools/ragged-map-test.sh \
	tools/badgeom-map-test.sh tools/hostile-fw-test.sh tools/loader-efi-test.sh
TEST_HALF := $(shell echo $$(( ($(words $(HOST_TESTS)) + 1) / 2 )))
TEST_HOST_A := $(wordlist 1,$(TEST_HALF),$(HOST_TESTS))
TEST_HOST_B := $(wordlist $(shell echo $$(( $(TEST_HALF) + 1 ))),$(words $(HOST_TESTS)),$(HOST_TESTS))
test_empty :=
test_space := $(test_empty) $(test_empty)
# A prove rule making one lane of the tests $(1). PROVE_FLAGS adds prove options (--timer).
test_lane = --rules='seq={$(subst $(test_space),$(comma),$(strip $(1)))}'
test: deps
	$(MAKE) -j2 $(HOST_TESTS) $(TSAN_IN_TEST) $(B)/esp-test/kernel.elf $(HOSTED)/libmm.a $(B)/tools/elf-mutate \
		$(FUZZERS) $(B)/kernel.elf $(B)/BOOTX64.EFI $(B)/tail/BOOTX64.EFI $(B)/geom/BOOTX64.EFI $(B)/hostile/BOOTX64.EFI
	echo '$(CMDLINE_TEST) $(CMDLINE)' > $(B)/esp-test/cmdline.txt
	prove $(PROVE_FLAGS) --directives --exec '' -j2 $(call test_lane,$(TEST_BOOT)) $(call test_lane,$(TEST_SIDE)) \
		$(call test_lane,$(TEST_HOST_A)) $(call test_lane,$(TEST_HOST_B)) $(TEST_BOOT) $(TEST_SIDE) $(HOST_TESTS)

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
