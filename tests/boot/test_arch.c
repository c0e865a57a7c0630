/* Boot self-tests of the CPU setup, traps and the command line. */
#include "ktest.h"
#include "x86.h"
#include "trap.h"
#include "serial.h"
#include "cmdline.h"
#include "vmlayout.h"
#include "kernel.h"

KTEST(cpu_efer_nxe_matches_cpuid)
{
	KEXPECT_EQ(!!(rdmsr(MSR_EFER) & EFER_NXE), cpu_feat.nx);
}

KTEST(cpu_cr0_wp_and_cr4_bits)
{
	KEXPECT(read_cr0() & CR0_WP);
	uint64_t cr4 = read_cr4();
	KEXPECT_EQ(!!(cr4 & CR4_PGE), cpu_feat.pge);
	KEXPECT_EQ(!!(cr4 & CR4_SMEP), cpu_feat.smep);
	KEXPECT_EQ(!!(cr4 & CR4_SMAP), cpu_feat.smap);
}

KTEST(cpu_pat_programmed)
{
	if (!cpu_feat.pat)
		KTEST_SKIP("CPU without PAT: no PAT MSR to program; PWT/PCD select WB, WT, UC-, UC and WC becomes UC-");
	KEXPECT_EQ(rdmsr(MSR_PAT), PAT_VALUE);
	/* Each memory type the kernel promises is reachable from a 4 KiB PTE's 3 PAT bits. */
	const uint8_t want[] = { PAT_MT_WB, PAT_MT_WT, PAT_MT_UCM, PAT_MT_UC, PAT_MT_WC };
	for (unsigned i = 0; i < sizeof(want); i++)
		KEXPECT_EQ((PAT_VALUE >> (8 * i)) & 0xff, want[i]);
}

KTEST(cpu_tss_and_gdt_loaded)
{
	uint16_t tr, cs;
	__asm__ volatile("str %0" : "=r"(tr));
	__asm__ volatile("mov %%cs, %0" : "=r"(cs));
	KEXPECT_EQ(tr, 0x18);
	KEXPECT_EQ(cs, 0x08);
}

KTEST(trap_page_fault_read_unmapped_reports_cr2_and_error)
{
	/* The first page of the user half is never mapped. */
	volatile uint8_t *p = (volatile uint8_t *)0x1000;
	uint8_t v = 0;
	uint64_t before = trap_last_fixup.count;
	KEXPECT_EQ(arch_probe_read8(p, &v), (uint64_t)-1);
	KEXPECT_EQ(trap_last_fixup.count, before + 1);
	KEXPECT_EQ(trap_last_fixup.vector, VEC_PF);
	KEXPECT_EQ(trap_last_fixup.cr2, 0x1000);
	KEXPECT_EQ(trap_last_fixup.error, 0);   /* non-present, read, supervisor */
}

KTEST(trap_page_fault_write_readonly_reports_protection)
{
	extern const char __rodata_start[];
	volatile uint8_t *p = (volatile uint8_t *)__rodata_start;
	KEXPECT_EQ(arch_probe_write8(p, 0x5a), (uint64_t)-1);
	KEXPECT_EQ(trap_last_fixup.vector, VEC_PF);
	KEXPECT_EQ(trap_last_fixup.cr2, (uint64_t)p);
	KEXPECT_EQ(trap_last_fixup.error, PF_ERR_PRESENT | PF_ERR_WRITE);
}

KTEST(trap_noncanonical_is_gp)
{
	uint8_t v;
	KEXPECT_EQ(arch_probe_read8((const volatile void *)0x8000000000000000ULL, &v), (uint64_t)-1);
	KEXPECT_EQ(trap_last_fixup.vector, VEC_GP);
}

KTEST(trap_probe_succeeds_on_mapped_memory)
{
	static volatile uint8_t cell = 0x77;
	uint8_t v = 0;
	KEXPECT_EQ(arch_probe_read8(&cell, &v), 0);
	KEXPECT_EQ(v, 0x77);
	KEXPECT_EQ(arch_probe_write8(&cell, 0x12), 0);
	KEXPECT_EQ(cell, 0x12);
}

KTEST(cmdline_parses_values_and_sizes)
{
	char saved[BOOTINFO_CMDLINE_MAX], buf[32];
	const char *cur = cmdline_get();
	size_t i = 0;
	for (; cur[i]; i++)
		saved[i] = cur[i];
	saved[i] = 0;
	cmdline_set("a=1 syspte=64M big=3G bad=12Q x=  onexit=qemu a=2 huge=99999999999999999999G");
	KEXPECT(cmdline_value("a", buf, sizeof(buf)) && buf[0] == '2' && !buf[1], "last occurrence wins");
	uint64_t v = 0;
	KEXPECT(cmdline_size("syspte", &v) && v == (64ULL << 20));
	KEXPECT(cmdline_size("big", &v) && v == (3ULL << 30));
	KEXPECT(!cmdline_size("bad", &v), "bad suffix rejected");
	KEXPECT(!cmdline_size("x", &v), "empty value rejected");
	KEXPECT(!cmdline_size("huge", &v), "overflow rejected");
	KEXPECT(!cmdline_value("missing", buf, sizeof(buf)));
	KEXPECT(!cmdline_value("syspt", buf, sizeof(buf)), "prefix of a key does not match");
	cmdline_set(saved);
}

KTEST(boot_info_sane)
{
	KEXPECT_EQ(kernel_bootinfo.magic, BOOTINFO_MAGIC);
	KEXPECT_EQ(kernel_bootinfo.kernel_virt_base, KERNEL_BASE);
	KEXPECT(IS_ALIGNED(kernel_bootinfo.kernel_phys_base, PAGE_SIZE));
	KEXPECT(kernel_bootinfo.mmap_desc_size >= 40);
	KEXPECT(kernel_bootinfo.rsdp_phys != 0, "OVMF and real PCs publish an ACPI RSDP");
}
