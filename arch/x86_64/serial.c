/* 16550 UART on COM1. Probed through the scratch register: an absent port reads 0xFF everywhere. */
#include "x86.h"
#include "serial.h"

#define COM1 0x3F8
#define UART_DATA 0
#define UART_IER 1
#define UART_FCR 2
#define UART_LCR 3
#define UART_MCR 4
#define UART_LSR 5
#define UART_SCR 7
#define LCR_DLAB 0x80
#define LCR_8N1 0x03
#define LSR_THR_EMPTY 0x20
#define SERIAL_SPIN_LIMIT 100000

static bool serial_present;

/* Detects COM1 and programs 115200 8N1; returns whether a UART answered. */
bool serial_init(void)
{
	outb(COM1 + UART_SCR, 0x5A);
	if (inb(COM1 + UART_SCR) != 0x5A)
		return serial_present = false;
	outb(COM1 + UART_SCR, 0xA5);
	if (inb(COM1 + UART_SCR) != 0xA5)
		return serial_present = false;
	outb(COM1 + UART_IER, 0);
	outb(COM1 + UART_LCR, LCR_DLAB);
	outb(COM1 + UART_DATA, 1);       /* divisor 1: 115200 baud */
	outb(COM1 + UART_IER, 0);
	outb(COM1 + UART_LCR, LCR_8N1);
	outb(COM1 + UART_FCR, 0x07);     /* enable and clear FIFOs */
	outb(COM1 + UART_MCR, 0x03);     /* DTR, RTS */
	return serial_present = true;
}

/* Sends one byte; gives up after a bounded wait so a stuck UART cannot hang the kernel. */
static void serial_putc(char c)
{
	for (int i = 0; i < SERIAL_SPIN_LIMIT; i++)
		if (inb(COM1 + UART_LSR) & LSR_THR_EMPTY)
			break;
	outb(COM1 + UART_DATA, (uint8_t)c);
}

/* Writes n bytes, turning "\n" into "\r\n". */
void serial_write(const char *s, size_t n)
{
	if (!serial_present)
		return;
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '\n')
			serial_putc('\r');
		serial_putc(s[i]);
	}
}
