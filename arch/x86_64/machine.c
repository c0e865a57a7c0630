/* Ending the machine on a PC (see machine.h). */
#include "machine.h"
#include "x86.h"

#define PORT_QEMU_DEBUG_EXIT 0xf4    /* isa-debug-exit, as tools/qemu.sh configures it */
#define PORT_KBC_COMMAND     0x64    /* 8042 keyboard controller */
#define KBC_PULSE_RESET      0xfe    /* pulse the CPU reset line */

void machine_qemu_exit(uint32_t value)
{
	cli();
	outl(PORT_QEMU_DEBUG_EXIT, value);
}

void machine_reset(void)
{
	cli();
	outb(PORT_KBC_COMMAND, KBC_PULSE_RESET);
	struct { uint16_t l; uint64_t b; } __attribute__((packed)) null_idt = { 0, 0 };
	__asm__ volatile("lidt %0; int3" ::"m"(null_idt));   /* a triple fault as the fallback */
	machine_halt();
}

void machine_halt(void)
{
	cli();
	for (;;)
		hlt();
}
