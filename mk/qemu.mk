# ---------------------------------------------------------------- ESP trees and QEMU
# An ESP directory per command line; QEMU serves it as a FAT disk.
CMDLINE_RUN ?= onexit=halt
CMDLINE_TEST ?= onexit=qemu
$(B)/esp-%/kernel.elf: $(B)/kernel.elf $(B)/BOOTX64.EFI
	@mkdir -p $(@D)/EFI/BOOT
	cp $(B)/BOOTX64.EFI $(@D)/EFI/BOOT/BOOTX64.EFI
	cp $(B)/kernel.elf $@

.PHONY: deps run debug test-boot

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

test-boot: $(B)/esp-test/kernel.elf
	echo '$(CMDLINE_TEST) $(CMDLINE)' > $(B)/esp-test/cmdline.txt
	prove --directives --exec '' tools/boot-test.sh
