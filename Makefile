# One Makefile for the loader, the kernel, the host tests and the QEMU runs.
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

# ---------------------------------------------------------------- kernel
KCFLAGS := -std=gnu11 -O2 -g -Wall -Wextra -Werror=implicit-function-declaration -Wno-format-zero-length \
	-ffreestanding -fno-stack-protector -fno-stack-check -fno-pic -fno-pie -mcmodel=kernel \
	-mno-red-zone -mgeneral-regs-only -mno-sse -mno-mmx -fno-omit-frame-pointer \
	-fno-optimize-sibling-calls -fno-strict-aliasing -fno-builtin -nostdinc \
	-isystem $(shell $(CC) -print-file-name=include) -Iinclude -Imm -Iarch/x86_64 -Ikernel -Itests/common -MMD -MP
KLDFLAGS := -nostdlib -static -z max-page-size=4096 -z noexecstack --no-warn-rwx-segments -T linker.ld

KSRC_C := $(wildcard kernel/*.c) $(wildcard arch/x86_64/*.c) $(wildcard mm/*.c) $(wildcard tests/boot/*.c) $(wildcard tests/common/*.c)
KSRC_ASM := $(wildcard arch/x86_64/*.asm)
KOBJ := $(patsubst %.c,$(B)/k/%.o,$(KSRC_C)) $(patsubst %.asm,$(B)/k/%.o,$(KSRC_ASM)) $(B)/k/font.o

$(B)/k/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(KCFLAGS) -c $< -o $@

$(B)/k/%.o: %.asm
	@mkdir -p $(@D)
	$(NASM) -f elf64 -g -F dwarf -MD $(@:.o=.d) -MP $< -o $@

# The console font: a PSF from Debian's console-setup-linux, embedded at build time.
FONT := /usr/share/consolefonts/Lat15-VGA16.psf.gz
$(B)/k/font.psf: $(FONT)
	@mkdir -p $(@D)
	gunzip -c $< > $@
$(B)/k/font.o: $(B)/k/font.psf
	printf 'section .rodata\nglobal font_psf, font_psf_end\nfont_psf: incbin "%s"\nfont_psf_end:\n' $< > $(B)/k/font.asm
	$(NASM) -f elf64 $(B)/k/font.asm -o $@

# Symbol table for backtraces: link once with an empty table, then with the real one. The table
# sits in its own section after everything else, so no other symbol moves between the links.
$(B)/k/ksyms0.o: tools/gen-ksyms.sh
	@mkdir -p $(@D)
	tools/gen-ksyms.sh /dev/null > $(B)/k/ksyms0.S
	$(CC) -c $(B)/k/ksyms0.S -o $@
$(B)/kernel0.elf: $(KOBJ) $(B)/k/ksyms0.o linker.ld
	$(LD) $(KLDFLAGS) -o $@ $(KOBJ) $(B)/k/ksyms0.o
$(B)/k/ksyms.o: $(B)/kernel0.elf tools/gen-ksyms.sh
	nm -n --defined-only $< | tools/gen-ksyms.sh - > $(B)/k/ksyms.S
	$(CC) -c $(B)/k/ksyms.S -o $@
$(B)/kernel.elf: $(KOBJ) $(B)/k/ksyms.o linker.ld
	$(LD) $(KLDFLAGS) -o $@ $(KOBJ) $(B)/k/ksyms.o
	tools/check-kernel.sh $@ $(B)/kernel0.elf

# ---------------------------------------------------------------- loader (GNU-EFI)
EFI_INC := /usr/include/efi
EFI_LIB := /usr/lib
BCFLAGS := -std=gnu11 -O2 -Wall -Wextra -fpic -ffreestanding -fno-stack-protector -fno-stack-check \
	-fshort-wchar -mno-red-zone -maccumulate-outgoing-args -DGNU_EFI_USE_MS_ABI \
	-I$(EFI_INC) -I$(EFI_INC)/x86_64 -Iinclude -MMD -MP
BSRC := $(wildcard boot/*.c)
BOBJ := $(patsubst %.c,$(B)/b/%.o,$(BSRC))

$(B)/b/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(BCFLAGS) -c $< -o $@
$(B)/loader.so: $(BOBJ)
	$(LD) -shared -Bsymbolic -nostdlib -znocombreloc -T $(EFI_LIB)/elf_x86_64_efi.lds \
		$(EFI_LIB)/crt0-efi-x86_64.o $(BOBJ) -L$(EFI_LIB) -lefi -lgnuefi \
		$$($(CC) -print-libgcc-file-name) -o $@
	tools/check-loader-relocs.sh $@
$(B)/BOOTX64.EFI: $(B)/loader.so
	$(OBJCOPY) -j .text -j .sdata -j .data -j .dynamic -j .dynsym -j .rel -j .rela -j .rel.* \
		-j .rela.* -j .reloc --target efi-app-x86_64 --subsystem=10 $< $@

# ---------------------------------------------------------------- ESP trees and QEMU
# An ESP directory per command line; QEMU serves it as a FAT disk.
CMDLINE_RUN ?= onexit=halt
CMDLINE_TEST ?= onexit=qemu
$(B)/esp-%/kernel.elf: $(B)/kernel.elf $(B)/BOOTX64.EFI
	@mkdir -p $(@D)/EFI/BOOT
	cp $(B)/BOOTX64.EFI $(@D)/EFI/BOOT/BOOTX64.EFI
	cp $(B)/kernel.elf $@

.PHONY: all deps run test test-host test-boot debug hosted bench bench-boot plots clean
all: $(B)/kernel.elf $(B)/BOOTX64.EFI

deps:
	@tools/install-deps.sh

run: deps
	$(MAKE) $(B)/esp-run/kernel.elf
	echo '$(CMDLINE_RUN) $(CMDLINE)' > $(B)/esp-run/cmdline.txt
	tools/qemu.sh --esp $(B)/esp-run --interactive $(QEMUFLAGS)

debug: deps
	$(MAKE) $(B)/esp-run/kernel.elf
	echo '$(CMDLINE_RUN) $(CMDLINE)' > $(B)/esp-run/cmdline.txt
	tools/qemu.sh --esp $(B)/esp-run --interactive --gdb $(QEMUFLAGS) & \
	gdb -q -ex 'target remote :1234' -ex 'hbreak kmain' -ex 'continue' $(B)/kernel.elf; \
	kill %1 2>/dev/null || true

# ---------------------------------------------------------------- host build of mm/
HCC := gcc
HCFLAGS := -std=gnu11 -O1 -g -Wall -Wextra -Werror=implicit-function-declaration -fsanitize=address,undefined -fno-omit-frame-pointer \
	-fno-sanitize-recover=undefined -Iinclude -Imm -Itests/host -Itests/common -MMD -MP
MM_SRC := $(wildcard mm/*.c)
HOST_SUPPORT := tests/host/host_support.c tests/host/fake_arch.c tests/host/host_machine.c
HOST_TESTS := $(patsubst tests/host/%.c,$(B)/host/%,$(wildcard tests/host/test_*.c))

$(B)/host/%: tests/host/%.c $(MM_SRC) $(HOST_SUPPORT)
	@mkdir -p $(@D)
	$(HCC) $(HCFLAGS) $< $(MM_SRC) $(HOST_SUPPORT) -o $@

test-host: $(HOST_TESTS)
	prove --exec '' $(HOST_TESTS)

test-boot: $(B)/esp-test/kernel.elf
	echo '$(CMDLINE_TEST) $(CMDLINE)' > $(B)/esp-test/cmdline.txt
	prove --directives --exec '' tools/boot-test.sh

# make test: every test, host and QEMU boot, reported by prove (--directives: skipped tests shown with their reason).
test: deps
	$(MAKE) $(HOST_TESTS) $(B)/esp-test/kernel.elf $(HOSTED)/libmm.a $(B)/tools/elf-mutate
	echo '$(CMDLINE_TEST) $(CMDLINE)' > $(B)/esp-test/cmdline.txt
	prove --directives --exec '' $(HOST_TESTS) tools/hosted-example.sh tools/boot-test.sh tools/boot-test-verifier.sh tools/fault-test.sh tools/loader-test.sh tools/usb-boot-test.sh tools/fuzz-smoke.sh tools/screen-test.sh \
		tools/cmdline-boot-test.sh tools/syspte-sizes.sh

clean:
	rm -rf $(B)

-include $(shell find $(B) -name '*.d' 2>/dev/null)

# ---------------------------------------------------------------- benchmarks (numbers, not tests)
BENCHES := $(patsubst tests/bench/%.c,$(B)/bench/%,$(wildcard tests/bench/*.c))
$(B)/bench/%: tests/bench/%.c $(MM_SRC) $(HOST_SUPPORT)
	@mkdir -p $(@D)
	$(HCC) -std=gnu11 -O2 -g -Iinclude -Imm -Itests/host -Itests/common $< $(MM_SRC) $(HOST_SUPPORT) -o $@
bench: $(BENCHES)
	@for b in $(BENCHES); do echo "== $$b"; $$b || exit 1; done

# make plots: PNGs in docs/ from the benchmarks (tools/plots.sh): occupancy sweep, map/unmap by
# size, boot against RAM. Needs gnuplot (tools/plot-deps.sh says how to install it).
plots: deps $(BENCHES)
	$(MAKE) $(B)/esp-test/kernel.elf
	echo '$(CMDLINE_TEST) $(CMDLINE)' > $(B)/esp-test/cmdline.txt
	tools/plots.sh

# Boot time and QEMU resident size with 2 and 16 GiB of RAM (must not grow with RAM).
bench-boot: deps
	$(MAKE) $(B)/esp-test/kernel.elf
	echo '$(CMDLINE_TEST) $(CMDLINE)' > $(B)/esp-test/cmdline.txt
	tools/bench-boot.sh

# ---------------------------------------------------------------- hosted library
# The real mm/ sources built for the host, with the fake machine, as a static library + headers.
HOSTED := $(B)/hosted
HOSTED_CFLAGS := -std=gnu11 -O2 -g -Wall -Wextra -Iinclude -Imm -Itests/host
$(HOSTED)/libmm.a: $(MM_SRC) $(HOST_SUPPORT)
	@mkdir -p $(HOSTED)/obj $(HOSTED)/include
	for f in $(MM_SRC) $(HOST_SUPPORT); do $(HCC) $(HOSTED_CFLAGS) -c $$f -o $(HOSTED)/obj/$$(basename $${f%.c}).o || exit 1; done
	rm -f $@ && ar rcs $@ $(HOSTED)/obj/*.o
	cp include/*.h mm/*.h tests/host/host_machine.h tests/host/fake_arch.h $(HOSTED)/include/
hosted: $(HOSTED)/libmm.a

# make region-picture: docs/region-picture.png, the summary screen's picture of the region after the
# benchmark's standard workload at 75 %, this allocator above the power-of-two baseline, drawn by the
# kernel's own kernel/memview.c and kernel/fbcon.c over the hosted library; gnuplot writes the PNG.
REGION_PIC := $(B)/host/region_picture
$(B)/host/font.o: $(B)/k/font.psf
	@mkdir -p $(@D)
	printf 'section .note.GNU-stack noalloc noexec nowrite progbits\nsection .rodata\nglobal font_psf, font_psf_end\nfont_psf: incbin "%s"\nfont_psf_end:\n' $< > $(B)/host/font.asm
	$(NASM) -f elf64 $(B)/host/font.asm -o $@
$(REGION_PIC): tests/host/region_picture.c kernel/fbcon.c kernel/memview.c tests/common/workload.h $(B)/host/font.o $(HOSTED)/libmm.a
	$(HCC) $(HOSTED_CFLAGS) -I$(HOSTED)/include -Ikernel -Itests/common $< kernel/fbcon.c kernel/memview.c \
		$(B)/host/font.o $(HOSTED)/libmm.a -o $@
.PHONY: region-picture
region-picture: $(REGION_PIC)
	@tools/plot-deps.sh
	$(REGION_PIC) $(B)/region-picture.ppm $(PICTURE_STEPS)
	tools/ppm2png.sh $(B)/region-picture.ppm docs/region-picture.png

# ---------------------------------------------------------------- images, flashing, boot matrix
# make image: build/disk.img, a GPT disk image with one FAT32 ESP, for a real PC (issue #5).
# make flash DEV=/dev/sdX: writes it to a USB stick after safety checks and a typed confirmation.
# make test-matrix: boots the suite per CPU model, RAM size, boot medium, CPU count, serial port.
# make screenshot: docs/screenshot.png, the screen after a boot with onexit=halt, and
# docs/screenshot-failed.png, a deliberately failing boot (crashtest=leak) at 640x480.
CMDLINE_IMAGE ?= onexit=halt
.PHONY: image flash test-matrix screenshot

$(B)/disk.img: $(B)/kernel.elf $(B)/BOOTX64.EFI tools/image.sh
	tools/image.sh $@ '$(strip $(CMDLINE_IMAGE) $(CMDLINE))'

image: deps
	rm -f $(B)/disk.img
	$(MAKE) $(B)/disk.img

flash:
	@[ -n '$(DEV)' ] || { tools/flash.sh; exit 2; }
	$(MAKE) $(B)/disk.img
	tools/flash.sh '$(DEV)' $(B)/disk.img

test-matrix: deps
	$(MAKE) $(B)/kernel.elf $(B)/BOOTX64.EFI
	CMDLINE='$(CMDLINE)' tools/matrix.sh

screenshot: deps
	$(MAKE) $(B)/kernel.elf $(B)/BOOTX64.EFI
	CMDLINE='$(CMDLINE)' QEMUFLAGS='$(QEMUFLAGS)' tools/screenshot.sh docs/screenshot.png
	CMDLINE='crashtest=leak $(CMDLINE)' QEMUFLAGS='-vga none -device VGA,xres=640,yres=480 $(QEMUFLAGS)' \
		tools/screenshot.sh docs/screenshot-failed.png

# ---------------------------------------------------------------- fuzzing
# libFuzzer harnesses tests/fuzz/fuzz_*.c over the real mm/ sources (clang 14, libclang-rt-14-dev):
# mm/ is coverage-instrumented, the harnesses, their models and the fake machine only sanitized.
# make fuzz: runs each harness FUZZ_SECONDS on tests/fuzz/corpus/<harness> (new inputs go to
# build/fuzz/corpus/<harness>, crashes to build/fuzz/<harness>-crash-*); FUZZ_FLAGS adds options.
# tools/fuzz-smoke.sh (in make test) runs each for a few seconds.
FUZZ_CC := clang
FUZZ_SECONDS ?= 60
FUZZ_FLAGS ?=
FUZZ_SAN := -fsanitize=address,undefined -fno-sanitize-recover=undefined
# Edge coverage without comparison tracing: the checks run after every call walk whole bitmaps and
# PTE ranges, where trace-cmp costs ~3x the executions; inputs are choices, not magic values.
FUZZ_COV ?= -fno-sanitize-coverage=trace-cmp
FUZZ_CFLAGS := -std=gnu11 -O1 -g -fno-omit-frame-pointer -Iinclude -Imm -Itests/host -Itests/common $(FUZZ_SAN) -MMD -MP
FUZZERS := $(patsubst tests/fuzz/%.c,$(B)/fuzz/%,$(wildcard tests/fuzz/fuzz_*.c))
FUZZ_MM_OBJ := $(patsubst mm/%.c,$(B)/fuzz/obj/mm_%.o,$(MM_SRC))
FUZZ_HOST_OBJ := $(patsubst tests/host/%.c,$(B)/fuzz/obj/host_%.o,$(HOST_SUPPORT))
.PHONY: fuzz fuzz-build

$(B)/fuzz/obj/mm_%.o: mm/%.c
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link $(FUZZ_COV) -c $< -o $@
$(B)/fuzz/obj/host_%.o: tests/host/%.c
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -c $< -o $@
$(B)/fuzz/obj/fuzz_%.o: tests/fuzz/fuzz_%.c
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -c $< -o $@
$(filter-out $(B)/fuzz/fuzz_elf,$(FUZZERS)): $(B)/fuzz/%: $(B)/fuzz/obj/%.o $(FUZZ_MM_OBJ) $(FUZZ_HOST_OBJ)
	$(FUZZ_CC) -fsanitize=fuzzer,address,undefined $^ -o $@
# fuzz_elf links the loader's pure ELF checks alone, with comparison tracing (magic values, bounds).
$(B)/fuzz/obj/boot_elf_check.o: boot/elf_check.c
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -c $< -o $@
$(B)/fuzz/fuzz_elf: $(B)/fuzz/obj/fuzz_elf.o $(B)/fuzz/obj/boot_elf_check.o
	$(FUZZ_CC) -fsanitize=fuzzer,address,undefined $^ -o $@

# The ACPI reader is arch code with no mm/ dependency, tested on the host like mm/.
$(B)/host/test_acpi: tests/host/test_acpi.c arch/x86_64/acpi.c $(MM_SRC) $(HOST_SUPPORT)
	@mkdir -p $(@D)
	$(HCC) $(HCFLAGS) -Iarch/x86_64 $< arch/x86_64/acpi.c $(MM_SRC) $(HOST_SUPPORT) -o $@

# The CPU start plan and the APIC's command-register values are arch code with no hardware access.
$(B)/host/test_smp_plan: tests/host/test_smp_plan.c arch/x86_64/smp_plan.c arch/x86_64/smp_plan.h arch/x86_64/apic_icr.h \
		arch/x86_64/percpu.h $(MM_SRC) $(HOST_SUPPORT)
	@mkdir -p $(@D)
	$(HCC) $(HCFLAGS) -Iarch/x86_64 $< arch/x86_64/smp_plan.c $(MM_SRC) $(HOST_SUPPORT) -o $@

# The differential test #includes the shared model (one translation unit per host test).
$(B)/host/test_syspte: tests/host/model_syspte.c tests/host/model_syspte.h
# The ELF test #includes the loader's pure ELF checks and the shared case catalogue and judge.
$(B)/host/test_elf: boot/elf_check.c boot/elf_check.h include/vmlayout.h tests/host/elf_cases.h tests/host/elf_verify.h
# Malformed kernels from that catalogue, for tools/loader-test.sh and the fuzz seeds.
$(B)/tools/elf-mutate: tools/elf-mutate.c boot/elf_check.c boot/elf_check.h include/vmlayout.h tests/host/elf_cases.h
	@mkdir -p $(@D)
	$(HCC) $(HCFLAGS) tools/elf-mutate.c boot/elf_check.c -o $@
# The command-line test #includes the parser (kernel/cmdline.c) and its model.
$(B)/host/test_cmdline: kernel/cmdline.c kernel/cmdline.h tests/host/model_cmdline.c tests/host/model_cmdline.h

# The command-line harness links the parser (kernel/cmdline.c), instrumented with comparison
# tracing too: its input is text, where keys and values are magic values to find.
$(B)/fuzz/obj/kernel_cmdline.o: kernel/cmdline.c
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -c $< -o $@
$(B)/fuzz/fuzz_cmdline: $(B)/fuzz/obj/kernel_cmdline.o

fuzz-build: $(FUZZERS)

fuzz: $(FUZZERS)
	@for f in $(FUZZERS); do n=$$(basename $$f); mkdir -p $(B)/fuzz/corpus/$$n; \
		echo "== $$n: $(FUZZ_SECONDS) s"; \
		$$f -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 -artifact_prefix=$(B)/fuzz/$$n- $(FUZZ_FLAGS) \
			$(B)/fuzz/corpus/$$n tests/fuzz/corpus/$$n > $(B)/fuzz/$$n.log 2>&1; st=$$?; \
		grep -E '^stat::(number_of_executed_units|average_exec_per_sec|new_units_added)' $(B)/fuzz/$$n.log; \
		if [ $$st -ne 0 ]; then tail -40 $(B)/fuzz/$$n.log; echo "$$n FAILED (log: $(B)/fuzz/$$n.log)"; exit 1; fi; \
	done
