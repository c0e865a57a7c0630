/* GDT with a 64-bit code/data pair and a TSS whose IST stacks take #DF, NMI and #MC. */
#include "x86.h"
#include "cpu.h"
#include "trap.h"

#define GDT_KCODE 0x08
#define GDT_KDATA 0x10
#define GDT_TSS   0x18

#define IST_DF 1
#define IST_NMI 2
#define IST_MC 3
#define IST_STACK_SIZE 16384

struct tss {
	uint32_t reserved0;
	uint64_t rsp[3];
	uint64_t reserved1;
	uint64_t ist[7];
	uint64_t reserved2;
	uint16_t reserved3;
	uint16_t iomap_base;
} __attribute__((packed));

struct gdt_ptr {
	uint16_t limit;
	uint64_t base;
} __attribute__((packed));

struct idt_entry {
	uint16_t off_lo, selector;
	uint8_t ist, type_attr;
	uint16_t off_mid;
	uint32_t off_hi, zero;
} __attribute__((packed));

/* Descriptor bits. */
#define SEG_PRESENT   (1ULL << 47)
#define SEG_CODE_DATA (1ULL << 44)
#define SEG_EXEC      (1ULL << 43)
#define SEG_RW        (1ULL << 41)
#define SEG_LONG      (1ULL << 53)
#define TSS_TYPE_AVAIL (0x9ULL << 40)
#define IDT_INTERRUPT_GATE 0x8E

static uint64_t gdt[5] __attribute__((aligned(16)));
static struct tss tss __attribute__((aligned(16)));
static uint8_t ist_stacks[3][IST_STACK_SIZE] __attribute__((aligned(16)));
static struct idt_entry idt[256] __attribute__((aligned(16)));
extern const uint64_t trap_stub_table[256];

/* Loads the GDT and TSS and reloads every segment register. */
void gdt_init(void)
{
	tss.ist[IST_DF - 1] = (uint64_t)&ist_stacks[0][IST_STACK_SIZE];
	tss.ist[IST_NMI - 1] = (uint64_t)&ist_stacks[1][IST_STACK_SIZE];
	tss.ist[IST_MC - 1] = (uint64_t)&ist_stacks[2][IST_STACK_SIZE];
	tss.iomap_base = sizeof(tss);

	uint64_t base = (uint64_t)&tss, limit = sizeof(tss) - 1;
	gdt[0] = 0;
	gdt[1] = SEG_PRESENT | SEG_CODE_DATA | SEG_EXEC | SEG_RW | SEG_LONG;
	gdt[2] = SEG_PRESENT | SEG_CODE_DATA | SEG_RW;
	gdt[3] = (limit & 0xffff) | ((base & 0xffffff) << 16) | TSS_TYPE_AVAIL | SEG_PRESENT |
		 (((limit >> 16) & 0xf) << 48) | (((base >> 24) & 0xff) << 56);
	gdt[4] = base >> 32;

	struct gdt_ptr p = { sizeof(gdt) - 1, (uint64_t)gdt };
	__asm__ volatile(
		"lgdt %0\n"
		"pushq %1\n"
		"leaq 1f(%%rip), %%rax\n"
		"pushq %%rax\n"
		"lretq\n"
		"1:\n"
		"mov %2, %%ax\n"
		"mov %%ax, %%ds\n mov %%ax, %%es\n mov %%ax, %%ss\n"
		"xor %%eax, %%eax\n mov %%ax, %%fs\n mov %%ax, %%gs\n"
		"mov %3, %%ax\n ltr %%ax\n"
		:: "m"(p), "i"(GDT_KCODE), "i"(GDT_KDATA), "i"(GDT_TSS) : "rax", "memory");
}

/* Points all 256 vectors at their stubs; #DF, NMI and #MC run on their own IST stacks. */
void idt_init(void)
{
	for (int v = 0; v < 256; v++) {
		uint64_t off = trap_stub_table[v];
		idt[v] = (struct idt_entry){
			.off_lo = off & 0xffff, .selector = GDT_KCODE, .ist = 0,
			.type_attr = IDT_INTERRUPT_GATE, .off_mid = (off >> 16) & 0xffff,
			.off_hi = off >> 32, .zero = 0 };
	}
	idt[VEC_DF].ist = IST_DF;
	idt[VEC_NMI].ist = IST_NMI;
	idt[VEC_MC].ist = IST_MC;
	struct gdt_ptr p = { sizeof(idt) - 1, (uint64_t)idt };
	__asm__ volatile("lidt %0" ::"m"(p));
}
