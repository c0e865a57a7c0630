# ---------------------------------------------------------------- host build of mm/
# The host tests tests/host/test_*.c, each one program with the real mm/ sources and the fake
# machine, under ASan/UBSan; tests see what they test (extra paths per test below).
HCFLAGS := -std=gnu11 -O1 -g $(WARN) -fsanitize=address,undefined -fno-omit-frame-pointer \
	-fno-sanitize-recover=undefined -pthread -Iinclude $(INC_ARCH_PTE) -Imm -Itests/host -Itests/common -MMD -MP
MM_SRC := $(wildcard mm/*.c)
HOST_SUPPORT := tests/host/host_support.c tests/host/fake_arch.c tests/host/host_machine.c
HOST_TESTS := $(patsubst tests/host/%.c,$(B)/host/%,$(wildcard tests/host/test_*.c))
.PHONY: test-host test-tsan

# mm/ and the fake machine are compiled once per flag set (objects in obj/, dependencies tracked
# per object, through the Makefile's include of every .d) and linked into every test, rather than
# compiled again for each test.
HOST_LIB_SRC := $(MM_SRC) $(HOST_SUPPORT)
HOST_OBJ := $(patsubst %.c,$(B)/host/obj/%.o,$(HOST_LIB_SRC))
TSAN_OBJ := $(patsubst %.c,$(B)/tsan/obj/%.o,$(HOST_LIB_SRC))
.SECONDARY: $(HOST_OBJ) $(TSAN_OBJ)
$(B)/host/obj/%.o: %.c
	@mkdir -p $(@D)
	$(HCC) $(HCFLAGS) -c $< -o $@

$(B)/host/%: tests/host/%.c $(HOST_OBJ)
	@mkdir -p $(@D)
	$(HCC) $(HCFLAGS) $< $(HOST_OBJ) -o $@

test-host: $(HOST_TESTS)
	prove --exec '' $(HOST_TESTS)

# The ACPI reader is arch code with no mm/ dependency, tested on the host like mm/.
$(B)/host/test_acpi: tests/host/test_acpi.c arch/x86_64/acpi.c $(HOST_OBJ)
	@mkdir -p $(@D)
	$(HCC) $(HCFLAGS) -Iarch/x86_64 $< arch/x86_64/acpi.c $(HOST_OBJ) -o $@

# The summary screen's machine facts: kernel/sysinfo.c with the ACPI reader (the test stands in for the rest).
$(B)/host/test_sysinfo_facts: tests/host/test_sysinfo_facts.c kernel/sysinfo.c kernel/sysinfo.h arch/x86_64/acpi.c $(HOST_OBJ)
	@mkdir -p $(@D)
	$(HCC) $(HCFLAGS) -Iarch/x86_64 -Ikernel $< arch/x86_64/acpi.c $(HOST_OBJ) -o $@

# The whole summary screen on a hosted machine: summary.c with memview.c, summary_layout.c, fbcon.c, cmdline.c
# and sysinfo.c #included, the ACPI reader linked.
$(B)/host/test_summary_screens: tests/host/test_summary_screens.c kernel/summary.c kernel/memview.c kernel/summary_layout.c \
		kernel/fbcon.c kernel/cmdline.c kernel/sysinfo.c arch/x86_64/acpi.c $(HOST_OBJ)
	@mkdir -p $(@D)
	$(HCC) $(HCFLAGS) -Iarch/x86_64 -Ikernel $< arch/x86_64/acpi.c $(HOST_OBJ) -o $@

# The fatal reports: kernel/panic.c and textwrap.c #included, kprintf wrapped at link time into the test's logs.
$(B)/host/test_panic_reports: tests/host/test_panic_reports.c kernel/panic.c kernel/textwrap.c $(HOST_OBJ)
	@mkdir -p $(@D)
	$(HCC) $(HCFLAGS) -Iarch/x86_64 -Ikernel -Wl,--wrap=kprintf $< $(HOST_OBJ) -o $@

# A fatal report beside another CPU that prints: kernel/console.c, panic.c and textwrap.c #included, kprintf
# wrapped at link time into console_write.
$(B)/host/test_panic_console: tests/host/test_panic_console.c kernel/console.c kernel/panic.c kernel/textwrap.c $(HOST_OBJ)
	@mkdir -p $(@D)
	$(HCC) $(HCFLAGS) -Iarch/x86_64 -Ikernel -Wl,--wrap=kprintf $< $(HOST_OBJ) -o $@

# The kernel's input edges: built like test_summary_screens, plus panic.c with kprintf wrapped.
$(B)/host/test_input_edges: tests/host/test_input_edges.c kernel/summary.c kernel/memview.c kernel/summary_layout.c \
		kernel/fbcon.c kernel/cmdline.c kernel/sysinfo.c kernel/panic.c kernel/textwrap.c arch/x86_64/acpi.c $(HOST_OBJ)
	@mkdir -p $(@D)
	$(HCC) $(HCFLAGS) -Iarch/x86_64 -Ikernel -Wl,--wrap=kprintf $< arch/x86_64/acpi.c $(HOST_OBJ) -o $@

# kernel/vm.c's direct map and framebuffer mapping (#included) against the physical allocator.
$(B)/host/test_vm_dmap: tests/host/test_vm_dmap.c kernel/vm.c kernel/vm.h $(HOST_OBJ)
	@mkdir -p $(@D)
	$(HCC) $(HCFLAGS) -Iarch/x86_64 -Ikernel $< $(HOST_OBJ) -o $@

# The CPU-set header (also in mm/'s seam, through arch_mm.h) and its own test: named here so
# tools/mutate.sh can mutate the header against test_cpumask.
$(B)/host/test_cpumask: include/cpumask.h

# The kernel's page-fault policy (kernel/fault.c, #included) on the hosted machine's region.
$(B)/host/test_fault_policy: tests/host/test_fault_policy.c kernel/fault.c kernel/fault.h arch/x86_64/trap.h $(HOST_OBJ)
	@mkdir -p $(@D)
	$(HCC) $(HCFLAGS) -Iarch/x86_64 -Ikernel $< $(HOST_OBJ) -o $@

# Real-PC robustness: kernel/vm.c's direct map and framebuffer, and cpu.c, tsc.c and serial.c with a
# fake CPU and fake ports (all #included).
$(B)/host/test_hw_quirks: tests/host/test_hw_quirks.c kernel/vm.c kernel/vm.h arch/x86_64/cpu.c arch/x86_64/tsc.c \
		arch/x86_64/serial.c arch/x86_64/x86.h $(HOST_OBJ)
	@mkdir -p $(@D)
	$(HCC) $(HCFLAGS) -Iarch/x86_64 -Ikernel $< $(HOST_OBJ) -o $@

# The CPU start plan, the APIC mode's choice, the APIC's command-register values and its error
# status's names are arch code with no hardware access.
$(B)/host/test_smp_plan: tests/host/test_smp_plan.c arch/x86_64/smp_plan.c arch/x86_64/smp_plan.h arch/x86_64/apic_icr.h \
		arch/x86_64/apic_mode.h arch/x86_64/apic_esr.h arch/x86_64/percpu.h $(HOST_OBJ)
	@mkdir -p $(@D)
	$(HCC) $(HCFLAGS) -Iarch/x86_64 $< arch/x86_64/smp_plan.c $(HOST_OBJ) -o $@

# Review round 3 of arch/: apic.c and tsc.c #included with a fake CPU (x86.h's instructions renamed).
$(B)/host/test_arch_cpuid: tests/host/test_arch_cpuid.c arch/x86_64/apic.c arch/x86_64/tsc.c arch/x86_64/x86.h include/physwidth.h tests/host/physwidth_cases.h $(HOST_OBJ)
	@mkdir -p $(@D)
	$(HCC) $(HCFLAGS) -Iarch/x86_64 $< $(HOST_OBJ) -o $@

# Review round 3 of arch/: the ACPI reader through kernel/sysinfo.c's map function on the fake machine.
$(B)/host/test_acpi_map: tests/host/test_acpi_map.c kernel/sysinfo.c kernel/sysinfo.h arch/x86_64/acpi.c $(HOST_OBJ)
	@mkdir -p $(@D)
	$(HCC) $(HCFLAGS) -Iarch/x86_64 -Ikernel $< arch/x86_64/acpi.c $(HOST_OBJ) -o $@

# The direct map's seal: kernel/sysinfo.c's premap (#included) and the ACPI reader's acpi_map_all on the fake machine.
$(B)/host/test_acpi_dmap_seal: tests/host/test_acpi_dmap_seal.c kernel/sysinfo.c kernel/sysinfo.h arch/x86_64/acpi.c \
		arch/x86_64/acpi.h $(HOST_OBJ)
	@mkdir -p $(@D)
	$(HCC) $(HCFLAGS) -Iarch/x86_64 -Ikernel $< arch/x86_64/acpi.c $(HOST_OBJ) -o $@

# The differential test #includes the shared model (one translation unit per host test).
$(B)/host/test_syspte: tests/host/model_syspte.c tests/host/model_syspte.h
# The ELF test #includes the loader's pure ELF checks and the shared case catalogue and judge.
$(B)/host/test_elf: boot/elf_check.c boot/elf_check.h include/vmlayout.h include/bootinfo.h tests/host/elf_cases.h tests/host/elf_verify.h
# Malformed kernels from that catalogue, for tools/loader-test.sh and the fuzz seeds.
$(B)/tools/elf-mutate: tools/elf-mutate.c boot/elf_check.c boot/elf_check.h include/vmlayout.h include/bootinfo.h tests/host/elf_cases.h
	@mkdir -p $(@D)
	$(HCC) $(HCFLAGS) tools/elf-mutate.c boot/elf_check.c -o $@
# The command-line test #includes the parser (kernel/cmdline.c) and its model.
$(B)/host/test_cmdline: kernel/cmdline.c kernel/cmdline.h tests/host/model_cmdline.c tests/host/model_cmdline.h
# The generated USB-stick files #include the parser and the model too.
$(B)/host/test_cmdline_usb_files: kernel/cmdline.c kernel/cmdline.h tests/host/model_cmdline.c tests/host/model_cmdline.h
# The framebuffer console's test #includes kernel/fbcon.c (a synthetic font, a framebuffer in memory).
$(B)/host/test_fbcon: kernel/fbcon.c kernel/fbcon.h include/bootinfo.h
# The framebuffer console under hostile modes and calls #includes kernel/fbcon.c too.
$(B)/host/test_fbcon_hostile_geometry: kernel/fbcon.c kernel/fbcon.h include/bootinfo.h
# The boot self-test runner's test #includes kernel/ktest.c (its KTAP into a log, the allocator's check faked).
$(B)/host/test_ktest_runner: kernel/ktest.c kernel/ktest.h
# The summary screen's list layout is kernel code with no dependency, built into its test.
$(B)/host/test_summary_layout: tests/host/test_summary_layout.c kernel/summary_layout.c kernel/summary_layout.h $(HOST_OBJ)
	@mkdir -p $(@D)
	$(HCC) $(HCFLAGS) $< kernel/summary_layout.c $(HOST_OBJ) -o $@

# The MTRR reader's judgement of large pages is arch code with no dependency, built into its test.
$(B)/host/test_mtrr: tests/host/test_mtrr.c arch/x86_64/mtrr.c arch/x86_64/mtrr.h arch/x86_64/cpu.h $(HOST_OBJ)
	@mkdir -p $(@D)
	$(HCC) $(HCFLAGS) -Iarch/x86_64 $< arch/x86_64/mtrr.c $(HOST_OBJ) -o $@

# The fatal reports' line breaks are kernel code with no dependency, built into their test.
$(B)/host/test_textwrap: tests/host/test_textwrap.c kernel/textwrap.c kernel/textwrap.h $(HOST_OBJ)
	@mkdir -p $(@D)
	$(HCC) $(HCFLAGS) $< kernel/textwrap.c $(HOST_OBJ) -o $@

# The same tests under ThreadSanitizer (with UBSan) instead of ASan: make test-tsan builds and runs
# them all; make test runs TSAN_IN_TEST, the tests that run several fake CPUs at once.
comma := ,
TSAN_CFLAGS := $(subst -fsanitize=address$(comma)undefined,-fsanitize=thread$(comma)undefined,$(HCFLAGS))
TSAN_TESTS := $(patsubst tests/host/%.c,$(B)/tsan/%,$(wildcard tests/host/test_*.c))
TSAN_IN_TEST := $(B)/tsan/test_cpumask $(B)/tsan/test_shootdown $(B)/tsan/test_pcpu $(B)/tsan/test_shootdown_model $(B)/tsan/test_syspte_pd_race \
	$(B)/tsan/test_cache_drain_race $(B)/tsan/test_cache_walk_drain $(B)/tsan/test_large_mix $(B)/tsan/test_pcpu_255
TSAN_EXTRA_test_acpi := -Iarch/x86_64 arch/x86_64/acpi.c
TSAN_EXTRA_test_smp_plan := -Iarch/x86_64 arch/x86_64/smp_plan.c
TSAN_EXTRA_test_arch_cpuid := -Iarch/x86_64
TSAN_EXTRA_test_acpi_map := -Iarch/x86_64 -Ikernel arch/x86_64/acpi.c
TSAN_EXTRA_test_acpi_dmap_seal := -Iarch/x86_64 -Ikernel arch/x86_64/acpi.c
TSAN_EXTRA_test_sysinfo_facts := -Iarch/x86_64 -Ikernel arch/x86_64/acpi.c
TSAN_EXTRA_test_summary_screens := -Iarch/x86_64 -Ikernel arch/x86_64/acpi.c
TSAN_EXTRA_test_panic_reports := -Iarch/x86_64 -Ikernel -Wl,--wrap=kprintf
TSAN_EXTRA_test_panic_console := -Iarch/x86_64 -Ikernel -Wl,--wrap=kprintf
TSAN_EXTRA_test_input_edges := -Iarch/x86_64 -Ikernel -Wl,--wrap=kprintf arch/x86_64/acpi.c
TSAN_EXTRA_test_summary_layout := kernel/summary_layout.c
TSAN_EXTRA_test_textwrap := kernel/textwrap.c
TSAN_EXTRA_test_mtrr := -Iarch/x86_64 arch/x86_64/mtrr.c
TSAN_EXTRA_test_vm_dmap := -Iarch/x86_64 -Ikernel
TSAN_EXTRA_test_fault_policy := -Iarch/x86_64 -Ikernel
TSAN_EXTRA_test_hw_quirks := -Iarch/x86_64 -Ikernel
# Its generated seeds run one fake CPU and stay in the ASan build; one here, for the threaded tests after them.
TSAN_EXTRA_test_large_mix := -DLARGE_MIX_SEEDS=1
TSAN_EXTRA_test_intake_bounds := -Iarch/x86_64 -Ikernel arch/x86_64/smp_plan.c arch/x86_64/acpi.c

$(B)/tsan/obj/%.o: %.c
	@mkdir -p $(@D)
	$(HCC) $(TSAN_CFLAGS) -c $< -o $@

$(B)/tsan/%: tests/host/%.c $(TSAN_OBJ)
	@mkdir -p $(@D)
	$(HCC) $(TSAN_CFLAGS) $(TSAN_EXTRA_$*) $< $(TSAN_OBJ) -o $@
$(B)/tsan/test_acpi: arch/x86_64/acpi.c
$(B)/tsan/test_panic_reports: kernel/panic.c kernel/textwrap.c
$(B)/tsan/test_panic_console: kernel/console.c kernel/panic.c kernel/textwrap.c
$(B)/tsan/test_sysinfo_facts: kernel/sysinfo.c kernel/sysinfo.h arch/x86_64/acpi.c
$(B)/tsan/test_acpi_dmap_seal: kernel/sysinfo.c kernel/sysinfo.h arch/x86_64/acpi.c arch/x86_64/acpi.h
$(B)/tsan/test_intake_bounds: kernel/cmdline.c kernel/cmdline.h kernel/sysinfo.c kernel/sysinfo.h include/bootinfo.h \
		arch/x86_64/smp_plan.c arch/x86_64/smp_plan.h arch/x86_64/acpi.c
$(B)/tsan/test_summary_screens: kernel/summary.c kernel/memview.c kernel/summary_layout.c kernel/fbcon.c \
		kernel/cmdline.c kernel/sysinfo.c arch/x86_64/acpi.c
$(B)/tsan/test_smp_plan: arch/x86_64/smp_plan.c arch/x86_64/smp_plan.h arch/x86_64/apic_icr.h arch/x86_64/apic_mode.h \
		arch/x86_64/apic_esr.h arch/x86_64/percpu.h
$(B)/tsan/test_summary_layout: kernel/summary_layout.c kernel/summary_layout.h
$(B)/tsan/test_fbcon: kernel/fbcon.c kernel/fbcon.h include/bootinfo.h
$(B)/tsan/test_fbcon_hostile_geometry: kernel/fbcon.c kernel/fbcon.h include/bootinfo.h
$(B)/tsan/test_textwrap: kernel/textwrap.c kernel/textwrap.h
$(B)/tsan/test_ktest_runner: kernel/ktest.c kernel/ktest.h
$(B)/tsan/test_mtrr: arch/x86_64/mtrr.c arch/x86_64/mtrr.h
$(B)/tsan/test_vm_dmap: kernel/vm.c kernel/vm.h
$(B)/tsan/test_fault_policy: kernel/fault.c kernel/fault.h arch/x86_64/trap.h
$(B)/tsan/test_hw_quirks: kernel/vm.c kernel/vm.h arch/x86_64/cpu.c arch/x86_64/tsc.c arch/x86_64/serial.c

test-tsan: $(TSAN_TESTS)
	prove --exec '' $(TSAN_TESTS)

# Mutation testing of mm/ against these host tests (tools/mutate.sh; not part of make test, about
# half a minute a mutant): MUTATE_MAX sites sampled per file of MUTATE_FILES (all for every site),
# the sample's offset MUTATE_SEED.
MUTATE_FILES ?= mm/syspte_map.c mm/syspte.c mm/syspte_index.c mm/reserved.c mm/mdl.c
.PHONY: mutate
mutate: deps
	HCC="$(HCC)" HCFLAGS="$(HCFLAGS)" HOST_SUPPORT="$(HOST_SUPPORT)" tools/mutate.sh $(MUTATE_FILES)
# The same for the sources outside mm/ that read the machine's and the user's input (the loader's
# checks of kernel.elf, the command line, the ACPI tables, the CPU start plan, the memory map and
# the RAM figure drawn from it): each file built by make into, and run with, only the host tests
# whose rules here name it.
MUTATE_INTAKE_FILES ?= boot/elf_check.c kernel/cmdline.c arch/x86_64/acpi.c arch/x86_64/smp_plan.c boot/memmap.c \
	kernel/sysinfo.c
.PHONY: mutate-intake
mutate-intake: deps
	HCC="$(HCC)" tools/mutate.sh $(MUTATE_INTAKE_FILES)
# The CPU-set header against its own test, every site (38, about ten minutes).
.PHONY: mutate-cpumask
mutate-cpumask: deps
	HCC="$(HCC)" MUTATE_MAX=all tools/mutate.sh include/cpumask.h
# Review round 3 of the boot intake #includes the loader's pure ELF checks and the RAM picture (memview.c, fbcon.c).
$(B)/host/test_boot_intake: boot/elf_check.c boot/elf_check.h include/vmlayout.h include/bootinfo.h kernel/fbcon.c kernel/memview.c
# The loader's memory-map sizing and page tables (boot/memmap.c, boot/paging.c #included) on the host: GNU-EFI's headers, CHAR16 literals
# as 16-bit wide characters, no mm/ objects.
LOADER_HOST_CFLAGS = -fshort-wchar -DGNU_EFI_USE_MS_ABI -I$(EFI_INC) -I$(EFI_INC)/x86_64 -Iboot
$(B)/host/test_loader_memmap: tests/host/test_loader_memmap.c boot/memmap.c boot/paging.c boot/loader.h include/bootinfo.h
	@mkdir -p $(@D)
	$(HCC) $(HCFLAGS) $(LOADER_HOST_CFLAGS) $< -o $@
$(B)/tsan/test_loader_memmap: tests/host/test_loader_memmap.c boot/memmap.c boot/paging.c boot/loader.h include/bootinfo.h
	@mkdir -p $(@D)
	$(HCC) $(TSAN_CFLAGS) $(LOADER_HOST_CFLAGS) $< -o $@

# Real-PC robustness, loader side: boot/platform.c, boot/memmap.c and boot/handover.c (#included) with GNU-EFI's headers.
$(B)/host/test_loader_platform: tests/host/test_loader_platform.c boot/memmap.c boot/platform.c boot/handover.c boot/loader.h include/bootinfo.h include/physwidth.h tests/host/physwidth_cases.h
	@mkdir -p $(@D)
	$(HCC) $(HCFLAGS) $(LOADER_HOST_CFLAGS) $< -o $@
$(B)/tsan/test_loader_platform: tests/host/test_loader_platform.c boot/memmap.c boot/platform.c boot/handover.c boot/loader.h include/bootinfo.h include/physwidth.h tests/host/physwidth_cases.h
	@mkdir -p $(@D)
	$(HCC) $(TSAN_CFLAGS) $(LOADER_HOST_CFLAGS) $< -o $@

# The loader's page allocations, boot/alloc.c (#included) with GNU-EFI's headers.
$(B)/host/test_loader_alloc: tests/host/test_loader_alloc.c boot/alloc.c boot/loader.h include/bootinfo.h
	@mkdir -p $(@D)
	$(HCC) $(HCFLAGS) $(LOADER_HOST_CFLAGS) $< -o $@
$(B)/tsan/test_loader_alloc: tests/host/test_loader_alloc.c boot/alloc.c boot/loader.h include/bootinfo.h
	@mkdir -p $(@D)
	$(HCC) $(TSAN_CFLAGS) $(LOADER_HOST_CFLAGS) $< -o $@
# The loader's file reading, boot/fileio.c (#included) with GNU-EFI's headers, against PC firmware's file protocol.
$(B)/host/test_loader_fileio: tests/host/test_loader_fileio.c boot/fileio.c boot/loader.h include/bootinfo.h
	@mkdir -p $(@D)
	$(HCC) $(HCFLAGS) $(LOADER_HOST_CFLAGS) $< -o $@
$(B)/tsan/test_loader_fileio: tests/host/test_loader_fileio.c boot/fileio.c boot/loader.h include/bootinfo.h
	@mkdir -p $(@D)
	$(HCC) $(TSAN_CFLAGS) $(LOADER_HOST_CFLAGS) $< -o $@

# The boot intake's bounds: the loader's cut and the parser, smp_plan_report and
# sysinfo_ram_bytes in one program (cmdline.c and sysinfo.c #included, smp_plan.c and acpi.c linked).
$(B)/host/test_intake_bounds: tests/host/test_intake_bounds.c kernel/cmdline.c kernel/cmdline.h kernel/sysinfo.c \
		kernel/sysinfo.h include/bootinfo.h arch/x86_64/smp_plan.c arch/x86_64/smp_plan.h arch/x86_64/acpi.c $(HOST_OBJ)
	@mkdir -p $(@D)
	$(HCC) $(HCFLAGS) -Iarch/x86_64 -Ikernel $< arch/x86_64/smp_plan.c arch/x86_64/acpi.c $(HOST_OBJ) -o $@
