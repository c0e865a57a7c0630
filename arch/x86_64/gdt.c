/*
 * Per-CPU GDT with a 64-bit code/data pair and a TSS whose IST stacks take #DF, NMI and #MC; one IDT
 * shared by every CPU. Each CPU's GDT and TSS live in its struct percpu (percpu.h).
 */
#include "x86.h"
#include "cpu.h"
#include "trap.h"
#include "percpu.h"

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

static struct idt_entry idt[256] __attribute__((aligned(16)));
extern const uint64_t trap_stub_table[256];

void gdt_init_cpu(struct percpu *pc)
{
	struct x86_tss *tss = &pc->tss;

	*tss = (struct x86_tss){ .iomap_base = sizeof(*tss) };
	for (int i = 0; i < PERCPU_IST_COUNT; i++)
		tss->ist[i] = pc->ist_top[i];
	uint64_t base = (uint64_t)tss, limit = sizeof(*tss) - 1;
	pc->gdt[0] = 0;
	pc->gdt[1] = SEG_PRESENT | SEG_CODE_DATA | SEG_EXEC | SEG_RW | SEG_LONG;
	pc->gdt[2] = SEG_PRESENT | SEG_CODE_DATA | SEG_RW;
	/* Rewritten as "available" each time: ltr faults on a TSS already marked busy (a restarted AP). */
	pc->gdt[3] = (limit & 0xffff) | ((base & 0xffffff) << 16) | TSS_TYPE_AVAIL | SEG_PRESENT |
		     (((limit >> 16) & 0xf) << 48) | (((base >> 24) & 0xff) << 56);
	pc->gdt[4] = base >> 32;

	struct gdt_ptr p = { sizeof(pc->gdt) - 1, (uint64_t)pc->gdt };
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
	percpu_set_gs(pc);
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
	idt_load();
}

void idt_load(void)
{
	struct gdt_ptr p = { sizeof(idt) - 1, (uint64_t)idt };
	__asm__ volatile("lidt %0" ::"m"(p));
}
