/*
 * 16550 UART on COM1. Probed through the scratch register: an absent port reads 0xFF everywhere.
 * A UART that answers the probe but whose transmitter never empties (a port left without a clock,
 * a chip behind a BMC that stopped draining it) is given up at the first byte that times out: the
 * wait is bounded per byte, but on hardware each of its port reads costs about 1 us, so waiting at
 * every byte would make every line of output take seconds. From then on serial_write only counts
 * what it drops.
 */
#include "x86.h"
#include "serial.h"
#include "kprintf.h"

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
static volatile bool serial_stuck;        /* a byte timed out: the port is no longer written */
static volatile uint64_t serial_dropped;  /* bytes of text not sent since then */

/* Detects COM1 and programs 115200 8N1; returns whether a UART answered. A new probe forgets an
 * earlier timeout. */
bool serial_init(void)
{
	serial_stuck = false;
	serial_dropped = 0;
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

/* Waits (bounded) for the transmitter to take a byte and sends c; false, with nothing sent, when
 * the wait timed out. */
static bool serial_putc(char c)
{
	for (int i = 0; i < SERIAL_SPIN_LIMIT; i++)
		if (inb(COM1 + UART_LSR) & LSR_THR_EMPTY) {
			outb(COM1 + UART_DATA, (uint8_t)c);
			return true;
		}
	return false;
}

/* Gives the port up after a timeout, counting the unsent bytes; the first CPU to do so says it
 * once on the other consoles (kprintf reaches serial_write again, which now returns at once, and a
 * caller holding the console's lock writes on without it, as console_write allows). */
static void serial_give_up(size_t unsent)
{
	__atomic_fetch_add(&serial_dropped, unsent, __ATOMIC_RELAXED);
	if (!__atomic_exchange_n(&serial_stuck, true, __ATOMIC_RELAXED))
		kprintf("serial: COM1's transmitter stopped taking bytes (%d port reads for one): output no longer "
			"sent there\n", SERIAL_SPIN_LIMIT);
}

/* Writes n bytes, turning "\n" into "\r\n"; after a byte times out, drops the rest and every later
 * write, counting the bytes (serial_bytes_dropped). */
void serial_write(const char *s, size_t n)
{
	if (!serial_present)
		return;
	if (serial_stuck) {
		__atomic_fetch_add(&serial_dropped, n, __ATOMIC_RELAXED);
		return;
	}
	for (size_t i = 0; i < n; i++)
		if ((s[i] == '\n' && !serial_putc('\r')) || !serial_putc(s[i])) {
			serial_give_up(n - i);
			return;
		}
}

uint64_t serial_bytes_dropped(void)
{
	return serial_dropped;
}
