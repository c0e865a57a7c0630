# ---------------------------------------------------------------- fuzzing
# libFuzzer harnesses tests/fuzz/fuzz_*.c over the real mm/ sources (Debian's default clang and its libclang-rt-dev: 14 on Debian 12, 19 on 13):
# mm/ is coverage-instrumented, the harnesses, their models and the fake machine only sanitized.
# make fuzz: runs each harness FUZZ_SECONDS on tests/fuzz/corpus/<harness> (new inputs go to
# build/fuzz/corpus/<harness>, crashes to build/fuzz/<harness>-crash-*); FUZZ_FLAGS adds options.
# tools/fuzz-smoke.sh (in make test) runs each for a few seconds.
FUZZ_SECONDS ?= 60
FUZZ_FLAGS ?=
FUZZ_SAN := -fsanitize=address,undefined -fno-sanitize-recover=undefined
# Edge coverage without comparison tracing: the checks run after every call walk whole bitmaps and
# PTE ranges, where trace-cmp costs ~3x the executions; inputs are choices, not magic values.
FUZZ_COV ?= -fno-sanitize-coverage=trace-cmp
FUZZ_CFLAGS := -std=gnu11 -O1 -g $(WARN) -fno-omit-frame-pointer -Iinclude $(INC_ARCH_PTE) -Imm -Itests/host -Itests/common $(FUZZ_SAN) -MMD -MP
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

# The command-line harness links the parser (kernel/cmdline.c), instrumented with comparison
# tracing too: its input is text, where keys and values are magic values to find.
$(B)/fuzz/obj/kernel_cmdline.o: kernel/cmdline.c
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -c $< -o $@
$(B)/fuzz/fuzz_cmdline: $(B)/fuzz/obj/kernel_cmdline.o

# The ACPI harness links the table reader (arch/x86_64/acpi.c), with comparison tracing too:
# signatures and lengths are magic values to find.
$(B)/fuzz/obj/arch_acpi.o: arch/x86_64/acpi.c
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -Iarch/x86_64 -fsanitize=fuzzer-no-link -c $< -o $@
$(B)/fuzz/obj/fuzz_acpi.o: FUZZ_CFLAGS += -Iarch/x86_64
$(B)/fuzz/fuzz_acpi: $(B)/fuzz/obj/arch_acpi.o

fuzz-build: $(FUZZERS)

fuzz: $(FUZZERS)
	@for f in $(FUZZERS); do n=$$(basename $$f); mkdir -p $(B)/fuzz/corpus/$$n; \
		echo "== $$n: $(FUZZ_SECONDS) s"; \
		$$f -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 -artifact_prefix=$(B)/fuzz/$$n- $(FUZZ_FLAGS) \
			$(B)/fuzz/corpus/$$n tests/fuzz/corpus/$$n > $(B)/fuzz/$$n.log 2>&1; st=$$?; \
		grep -E '^stat::(number_of_executed_units|average_exec_per_sec|new_units_added)' $(B)/fuzz/$$n.log; \
		if [ $$st -ne 0 ]; then tail -40 $(B)/fuzz/$$n.log; echo "$$n FAILED (log: $(B)/fuzz/$$n.log)"; exit 1; fi; \
	done
