# ---------------------------------------------------------------- loader (GNU-EFI)
# build/BOOTX64.EFI from boot/; it sees only include/ (INC_BOOT) and the EFI headers.
EFI_INC := /usr/include/efi
EFI_LIB := /usr/lib
BCFLAGS := -std=gnu11 -O2 $(WARN) -fpic -ffreestanding -fno-stack-protector -fno-stack-check \
	-fshort-wchar -mno-red-zone -maccumulate-outgoing-args -DGNU_EFI_USE_MS_ABI \
	-I$(EFI_INC) -I$(EFI_INC)/x86_64 $(INC_BOOT) -MMD -MP
BSRC := $(wildcard boot/*.c)
BOBJ := $(patsubst %.c,$(B)/b/%.o,$(BSRC))

$(B)/b/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(BCFLAGS) -c $< -o $@
$(B)/loader.so: $(BOBJ)
	$(LD) -shared -Bsymbolic -nostdlib -znocombreloc --fatal-warnings -T $(EFI_LIB)/elf_x86_64_efi.lds \
		$(EFI_LIB)/crt0-efi-x86_64.o $(BOBJ) -L$(EFI_LIB) -lefi -lgnuefi \
		$$($(CC) -print-libgcc-file-name) -o $@
	tools/check-loader-relocs.sh $@
$(B)/BOOTX64.EFI: $(B)/loader.so
	$(OBJCOPY) -j .text -j .sdata -j .data -j .dynamic -j .dynsym -j .rel -j .rela -j .rel.* \
		-j .rela.* -j .reloc --target efi-app-x86_64 --subsystem=10 $< $@
