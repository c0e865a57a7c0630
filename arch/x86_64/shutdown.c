/* Ending the machine on a PC (see shutdown.h). */
#include "shutdown.h"
#include "x86.h"

#define PORT_QEMU_DEBUG_EXIT 0xf4    /* isa-debug-exit, as tools/qemu.sh configures it */
#define PORT_KBC_COMMAND     0x64    /* 8042 keyboard controller */
#define KBC_PULSE_RESET      0xfe    /* pulse the CPU reset line */

/* What a read of port 0xf4 returns: isa-debug-exit answers every read with 0; a port nothing
 * decodes floats to all ones. */
#define DEBUG_EXIT_READS_AS 0u

void shutdown_qemu_exit(uint32_t value)
{
	cli();
	if (inl(PORT_QEMU_DEBUG_EXIT) != DEBUG_EXIT_READS_AS)
		return;
	outl(PORT_QEMU_DEBUG_EXIT, value);
	/* Newer QEMU (10.0, Debian 13) asks its main loop for the exit rather than exiting inside the
	 * write, so this CPU would run on for a moment: it must not, or its next lines ("System
	 * halted.") land in the log, or a second write changes the exit status, after the end. */
	shutdown_halt();
}

void shutdown_reset(void)
{
	cli();
	outb(PORT_KBC_COMMAND, KBC_PULSE_RESET);
	struct { uint16_t l; uint64_t b; } __attribute__((packed)) null_idt = { 0, 0 };
	__asm__ volatile("lidt %0; int3" ::"m"(null_idt));   /* a triple fault as the fallback */
	shutdown_halt();
}

void shutdown_halt(void)
{
	cli();
	for (;;)
		hlt();
}
