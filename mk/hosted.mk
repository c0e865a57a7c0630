# ---------------------------------------------------------------- hosted library
# The real mm/ sources built for the host, with the fake machine, as a static library + headers.
HOSTED := $(B)/hosted
HOSTED_CFLAGS := -std=gnu11 -O2 -g $(WARN) -Iinclude $(INC_ARCH_PTE) -Imm -Itests/host
.PHONY: hosted region-picture
# The headers are prerequisites too: a changed one is copied again and the objects remade with it.
HOSTED_HEADERS := $(wildcard include/*.h arch/x86_64/include/*.h mm/*.h) tests/host/host_machine.h tests/host/fake_arch.h
$(HOSTED)/libmm.a: $(MM_SRC) $(HOST_SUPPORT) $(HOSTED_HEADERS)
	@mkdir -p $(HOSTED)/obj $(HOSTED)/include
	for f in $(MM_SRC) $(HOST_SUPPORT); do $(HCC) $(HOSTED_CFLAGS) -c $$f -o $(HOSTED)/obj/$$(basename $${f%.c}).o || exit 1; done
	rm -f $@ && ar rcs $@ $(HOSTED)/obj/*.o
	cp $(HOSTED_HEADERS) $(HOSTED)/include/
hosted: $(HOSTED)/libmm.a

# make region-picture: docs/region-picture.png, the summary screen's picture of the region after the
# benchmark's standard workload at 75 %, this allocator above the power-of-two baseline, drawn by the
# kernel's own kernel/memview.c and kernel/fbcon.c over the hosted library; gnuplot writes the PNG.
REGION_PIC := $(B)/host/region_picture
$(B)/host/font.o: $(B)/k/font.psf
	@mkdir -p $(@D)
	printf 'section .note.GNU-stack noalloc noexec nowrite progbits\nsection .rodata\nglobal font_psf, font_psf_end\nfont_psf: incbin "%s"\nfont_psf_end:\n' $< > $(B)/host/font.asm
	$(NASM) -f elf64 -Werror $(B)/host/font.asm -o $@
$(REGION_PIC): tests/host/region_picture.c kernel/fbcon.c kernel/memview.c include/workload.h $(B)/host/font.o $(HOSTED)/libmm.a
	$(HCC) $(HOSTED_CFLAGS) -I$(HOSTED)/include -Ikernel $< kernel/fbcon.c kernel/memview.c \
		$(B)/host/font.o $(HOSTED)/libmm.a -o $@
region-picture: $(REGION_PIC)
	@tools/plot-deps.sh
	$(REGION_PIC) $(B)/region-picture.ppm $(PICTURE_STEPS)
	tools/ppm2png.sh $(B)/region-picture.ppm docs/region-picture.png
