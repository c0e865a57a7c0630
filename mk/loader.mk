# ---------------------------------------------------------------- loader (GNU-EFI)
# build/BOOTX64.EFI from boot/; it sees only include/ (INC_BOOT) and the EFI headers.
EFI_INC := /usr/include/efi
EFI_LIB := /usr/lib
BCFLAGS := -std=gnu11 -O2 $(WARN) -fpic -ffreestanding -fno-stack-protector -fno-stack-check \
	-fshort-wchar -mno-red-zone -maccumulate-outgoing-args -DGNU_EFI_USE_MS_ABI \
	-I$(EFI_INC) -I$(EFI_INC)/x86_64 $(INC_BOOT) -MMD -MP
BSRC := $(wildcard boot/*.c)
BOBJ := $(patsubst %.c,$(B)/b/%.o,$(BSRC))

# The test loader of tools/ragged-map-test.sh, build/tail/BOOTX64.EFI: the same sources, handing
# over a memory map LOADER_TEST_MAP_TAIL bytes longer than its whole descriptors (boot/handover.c).
BOBJ_TAIL := $(patsubst %.c,$(B)/tail/b/%.o,$(BSRC))

$(B)/b/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(BCFLAGS) -c $< -o $@
$(B)/tail/b/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(BCFLAGS) -DLOADER_TEST_MAP_TAIL=8 -c $< -o $@
# The test loader of tools/badgeom-map-test.sh, build/geom/BOOTX64.EFI: the same sources, handing
# over the memory map with the size and stride \maptest.txt gives (boot/handover.c, maptest_*).
BOBJ_GEOM := $(patsubst %.c,$(B)/geom/b/%.o,$(BSRC))
$(B)/geom/b/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(BCFLAGS) -DLOADER_TEST_MAP_GEOMETRY -c $< -o $@

# The test loader of tools/hostile-fw-test.sh, build/hostile/BOOTX64.EFI: the same sources, with
# OVMF's GetMemoryMap and file Read wrapped to behave as PC firmware does (boot/loader.c, hostile_*).
BOBJ_HOSTILE := $(patsubst %.c,$(B)/hostile/b/%.o,$(BSRC))
$(B)/hostile/b/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(BCFLAGS) -DLOADER_TEST_HOSTILE_FW -c $< -o $@

# Links the loader objects (the prerequisites) with GNU-EFI into $@, then checks its relocations.
define loader_link
	$(LD) -shared -Bsymbolic -nostdlib -znocombreloc --fatal-warnings -T $(EFI_LIB)/elf_x86_64_efi.lds \
		$(EFI_LIB)/crt0-efi-x86_64.o $^ -L$(EFI_LIB) -lefi -lgnuefi \
		$$($(CC) -print-libgcc-file-name) -o $@
	tools/check-loader-relocs.sh $@
endef
# Makes the PE application $@ from the linked loader $<, failing when a section it needs is left out.
define loader_efi
	OBJCOPY=$(OBJCOPY) tools/loader-efi.sh $< $@
endef
$(B)/loader.so: $(BOBJ)
	$(loader_link)
$(B)/BOOTX64.EFI: $(B)/loader.so tools/loader-efi.sh
	$(loader_efi)
$(B)/tail/loader.so: $(BOBJ_TAIL)
	$(loader_link)
$(B)/tail/BOOTX64.EFI: $(B)/tail/loader.so tools/loader-efi.sh
	$(loader_efi)
$(B)/geom/loader.so: $(BOBJ_GEOM)
	$(loader_link)
$(B)/geom/BOOTX64.EFI: $(B)/geom/loader.so tools/loader-efi.sh
	$(loader_efi)
$(B)/hostile/loader.so: $(BOBJ_HOSTILE)
	$(loader_link)
$(B)/hostile/BOOTX64.EFI: $(B)/hostile/loader.so tools/loader-efi.sh
	$(loader_efi)
