# ---------------------------------------------------------------- images, flashing, boot matrix
# make image: build/disk.img, a GPT disk image with one FAT32 ESP, for a real PC (issue #5).
# make flash DEV=/dev/sdX: writes it to a USB stick after safety checks and a typed confirmation.
# make test-matrix: boots the suite per CPU model, RAM size, boot medium, CPU count, serial port.
# make test-debian: install-deps, the build and make test on a fresh Debian release (DEBIAN_SUITE,
# default trixie) made with debootstrap, as root (tools/debian-release-test.sh).
# make screenshot: docs/screenshot.png, the screen after a boot with onexit=halt, and
# docs/screenshot-failed.png, a deliberately failing boot (crashtest=leak) at 640x480.
CMDLINE_IMAGE ?= onexit=halt
.PHONY: image flash test-matrix test-debian screenshot

$(B)/disk.img: $(B)/kernel.elf $(B)/BOOTX64.EFI tools/image.sh
	tools/image.sh $@ '$(strip $(CMDLINE_IMAGE) $(CMDLINE))'

image: deps
	rm -f $(B)/disk.img
	$(MAKE) $(B)/disk.img

# Under sudo, an image to build is refused: built as root, build/ would become root's and the next
# make as yourself would fail on it.
flash:
	@[ -n '$(DEV)' ] || { tools/flash.sh; exit 2; }
	@[ -z "$${SUDO_USER:-}" ] || $(MAKE) -s -q $(B)/disk.img || { echo "make flash: $(B)/disk.img is missing or older than the sources; build it without sudo first (make image), then run sudo make flash DEV=$(DEV) again" >&2; exit 2; }
	$(MAKE) $(B)/disk.img
	tools/flash.sh '$(DEV)' $(B)/disk.img

test-matrix: deps
	$(MAKE) $(B)/kernel.elf $(B)/BOOTX64.EFI
	CMDLINE='$(CMDLINE)' tools/matrix.sh

test-debian:
	tools/debian-release-test.sh

screenshot: deps
	$(MAKE) $(B)/kernel.elf $(B)/BOOTX64.EFI
	CMDLINE='$(CMDLINE)' QEMUFLAGS='$(QEMUFLAGS)' tools/screenshot.sh docs/screenshot.png
	CMDLINE='crashtest=leak $(CMDLINE)' QEMUFLAGS='-vga none -device VGA,xres=640,yres=480 $(QEMUFLAGS)' \
		tools/screenshot.sh docs/screenshot-failed.png
