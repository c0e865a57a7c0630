# ---------------------------------------------------------------- kernel
# build/kernel.elf from kernel/, arch/x86_64/, mm/ and the boot self-tests (tests/boot, tests/common).
KCFLAGS := -std=gnu11 -O2 -g $(WARN) -Wno-format-zero-length \
	-ffreestanding -fno-stack-protector -fno-stack-check -fno-pic -fno-pie -mcmodel=kernel \
	-mno-red-zone -mgeneral-regs-only -mno-sse -mno-mmx -fno-omit-frame-pointer \
	-fno-optimize-sibling-calls -fno-strict-aliasing -fno-builtin -nostdinc \
	-isystem $(shell $(CC) -print-file-name=include) -MMD -MP
KLDFLAGS := -nostdlib -static -z max-page-size=4096 -z noexecstack --no-warn-rwx-segments --fatal-warnings -T linker.ld

# Each directory compiles with the include paths of its layer (the top Makefile's INC_*); a
# directory without a line here has none and cannot include a project header.
$(B)/k/arch/%.o: KINC := $(INC_ARCH)
$(B)/k/mm/%.o: KINC := $(INC_MM)
$(B)/k/kernel/%.o: KINC := $(INC_KERNEL)
$(B)/k/tests/common/%.o: KINC := $(INC_MM) -Itests/common
$(B)/k/tests/boot/%.o: KINC := $(INC_KERNEL) -Itests/common

KSRC_C := $(wildcard kernel/*.c) $(wildcard arch/x86_64/*.c) $(wildcard mm/*.c) $(wildcard tests/boot/*.c) $(wildcard tests/common/*.c)
KSRC_ASM := $(wildcard arch/x86_64/*.asm)
KOBJ := $(patsubst %.c,$(B)/k/%.o,$(KSRC_C)) $(patsubst %.asm,$(B)/k/%.o,$(KSRC_ASM)) $(B)/k/font.o

$(B)/k/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(KCFLAGS) $(KINC) -c $< -o $@

$(B)/k/%.o: %.asm
	@mkdir -p $(@D)
	$(NASM) -f elf64 -g -F dwarf -Werror -MD $(@:.o=.d) -MP $< -o $@

# The console font: a PSF from Debian's console-setup-linux, embedded at build time.
FONT := /usr/share/consolefonts/Lat15-VGA16.psf.gz
$(B)/k/font.psf: $(FONT)
	@mkdir -p $(@D)
	gunzip -c $< > $@
$(B)/k/font.o: $(B)/k/font.psf
	printf 'section .rodata\nglobal font_psf, font_psf_end\nfont_psf: incbin "%s"\nfont_psf_end:\n' $< > $(B)/k/font.asm
	$(NASM) -f elf64 -Werror $(B)/k/font.asm -o $@

# Symbol table for backtraces: link once with an empty table, then with the real one. The table
# sits in its own section after everything else, so no other symbol moves between the links.
$(B)/k/ksyms0.o: tools/gen-ksyms.sh
	@mkdir -p $(@D)
	tools/gen-ksyms.sh /dev/null > $(B)/k/ksyms0.S
	$(CC) $(WARN) -Wa,--fatal-warnings -c $(B)/k/ksyms0.S -o $@
$(B)/kernel0.elf: $(KOBJ) $(B)/k/ksyms0.o linker.ld
	$(LD) $(KLDFLAGS) -o $@ $(KOBJ) $(B)/k/ksyms0.o
$(B)/k/ksyms.o: $(B)/kernel0.elf tools/gen-ksyms.sh
	nm -n --defined-only $< | tools/gen-ksyms.sh - > $(B)/k/ksyms.S
	$(CC) $(WARN) -Wa,--fatal-warnings -c $(B)/k/ksyms.S -o $@
$(B)/kernel.elf: $(KOBJ) $(B)/k/ksyms.o linker.ld
	$(LD) $(KLDFLAGS) -o $@ $(KOBJ) $(B)/k/ksyms.o
	tools/check-kernel.sh $@ $(B)/kernel0.elf
