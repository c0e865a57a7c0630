/* Boot self-tests of the CPU setup, traps and the command line. */
#include "ktest.h"
#include "x86.h"
#include "cpu.h"
#include "trap.h"
#include "fault.h"
#include "panic.h"
#include "cmdline.h"
#include "vmlayout.h"
#include "kernel.h"
#include "kstring.h"
#include "fbcon.h"
#include "syspte.h"
#include "reserved.h"
#include "verifier.h"
#include "smp.h"

KTEST(cpu_efer_nxe_matches_cpuid)
{
	KEXPECT_EQ(!!(rdmsr(MSR_EFER) & EFER_NXE), cpu_feat.nx);
}

/* One CPU's Execute Disable state: EFER.NXE, CPUID's NX, and on Intel XD Bit Disable. */
struct test_xd_state {
	bool read, xd_disable, nxe, cpuid_nx;
};
static struct test_xd_state test_xd_of[SMP_MAX_CPUS];

/* Records the calling CPU's Execute Disable state (run on each CPU through smp_call); reads
 * IA32_MISC_ENABLE only when cpu_detect found an Intel CPU (elsewhere the MSR is a #GP). */
static void test_xd_read(void *arg)
{
	struct test_xd_state *t = &test_xd_of[smp_self()];
	uint32_t r[4];

	(void)arg;
	cpuid(0x80000001, 0, r);   /* every CPU with long mode has the leaf */
	t->xd_disable = cpu_feat.xd != CPU_XD_NO_MSR && (rdmsr(MSR_MISC_ENABLE) & MISC_ENABLE_XD_DISABLE);
	t->nxe = rdmsr(MSR_EFER) & EFER_NXE;
	t->cpuid_nx = r[3] & (1u << 20);
	t->read = true;
}

/*
 * Every online CPU runs with EFER.NXE as the boot CPU decided, set wherever CPUID shows NX; on an
 * Intel CPU each also runs with XD Bit Disable clear (cpu_detect cleared the boot CPU's, the
 * trampoline each AP's) unless the boot CPU's would not clear. Under QEMU's TCG the bit is clear
 * from reset and does not hide NX, so this checks the state, not that a set bit was cleared (the
 * host test test_arch_cpuid does that against a fake CPU). No skip on other vendors: the EFER part
 * holds everywhere, and a CPU with NX and PAT skips nothing (tools/matrix.sh).
 */
KTEST(cpu_nxe_on_every_cpu_and_xd_disable_clear_on_intel)
{
	cpumask_t online = smp_online_mask();

	memset(test_xd_of, 0, sizeof(test_xd_of));
	cpumask_for_each(c, online)
		KEXPECT_EQ(smp_call(c, test_xd_read, NULL), 0);
	cpumask_for_each(i, online) {
		const struct test_xd_state *t = &test_xd_of[i];
		KEXPECT(t->read, "CPU %u ran the call", i);
		KEXPECT(t->xd_disable == (cpu_feat.xd == CPU_XD_STUCK), "CPU %u: XD Bit Disable %d, cpu_feat.xd %d", i,
			t->xd_disable, cpu_feat.xd);
		KEXPECT(t->nxe == cpu_feat.nx, "CPU %u: EFER.NXE %d, the boot CPU's nx %d", i, t->nxe, cpu_feat.nx);
		KEXPECT(!t->cpuid_nx || t->nxe, "CPU %u: CPUID shows NX and EFER.NXE is clear", i);
	}
}

/*
 * On an Intel CPU the boot CPU runs with Limit CPUID Maxval clear (cpu_detect clears it), so CPUID
 * 0 reports the CPU's own highest leaf, and leaf 7's features are read when it has the leaf. QEMU's
 * TCG keeps the bit clear from reset: the clearing itself is host-tested (test_arch_cpuid). No
 * skip on other vendors (a CPU with NX and PAT skips nothing: tools/matrix.sh).
 */
KTEST(cpu_cpuid_limit_clear_on_intel)
{
	uint32_t r[4];

	if (cpu_feat.xd != CPU_XD_NO_MSR)
		KEXPECT(!(rdmsr(MSR_MISC_ENABLE) & MISC_ENABLE_LIMIT_CPUID), "Limit CPUID Maxval still set");
	cpuid(0, 0, r);
	KEXPECT(r[0] >= 7 || (!cpu_feat.smep && !cpu_feat.smap && !cpu_feat.invpcid),
		"leaf 7's features without leaf 7 (highest leaf %u)", r[0]);
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

/* What a substitute page-fault policy saw (trap_handler_pf_runs_before_the_fixup). */
static struct {
	uint64_t count, vector, cr2, fixups_before;
} test_pf_seen;

/* Records the fault and returns, so the dispatcher goes on to the probe's fixup. */
static void test_pf_record(struct trap_frame *tf, uint64_t cr2)
{
	test_pf_seen.count++;
	test_pf_seen.vector = tf->vector;
	test_pf_seen.cr2 = cr2;
	test_pf_seen.fixups_before = trap_last_fixup.count;
}

/* arch/ reaches the kernel's policy only through the registered handlers: a substitute sees the
 * fault, with its address, before the fixup; the kernel's own handlers are registered again after. */
KTEST(trap_handler_pf_runs_before_the_fixup)
{
	uint8_t v = 0;
	uint64_t before = trap_last_fixup.count;
	test_pf_seen.count = 0;
	trap_set_handlers(test_pf_record, panic_trap);
	int r = arch_probe_read8((const volatile void *)0x2000, &v);
	trap_set_handlers(kernel_page_fault, panic_trap);
	KEXPECT_EQ(r, -1);
	KEXPECT_EQ(test_pf_seen.count, 1);
	KEXPECT_EQ(test_pf_seen.vector, VEC_PF);
	KEXPECT_EQ(test_pf_seen.cr2, 0x2000);
	KEXPECT_EQ(test_pf_seen.fixups_before, before, "the policy ran before the fixup");
	KEXPECT_EQ(trap_last_fixup.count, before + 1);
	/* a probe now reaches the kernel's policy again, not the substitute */
	KEXPECT_EQ(arch_probe_read8((const volatile void *)0x2000, &v), -1);
	KEXPECT_EQ(test_pf_seen.count, 1);
}

/* The kernel's own build of the parser (freestanding, -O2) on the issue's inputs; the host test covers the rest. */
KTEST(cmdline_kernel_build_parses_the_issue_cases)
{
	static const char in[] = "\xEF\xBB\xBFonexit=qemu\r\nsyspte=0x4000000\tsyspte=-64M syspte= syspte=99999999999G "
		"syspte=1T syspte=64MB mmapdump=0 ptdump=off onexti=halt verifier=yes\0ktest=cmdline_\r\n"
		"# a comment: syspte=4M\nexhaust=full exhaust=budget";
	static const uint8_t want[] = { CMDLINE_P_NOT_DECIMAL, CMDLINE_P_NOT_DECIMAL, CMDLINE_P_EMPTY,
		CMDLINE_P_TOO_LARGE, CMDLINE_P_BAD_SUFFIX, CMDLINE_P_BAD_SUFFIX, CMDLINE_P_UNKNOWN_KEY,
		CMDLINE_P_BAD_NAME, CMDLINE_P_OVERRIDDEN };
	static struct cmdline c;
	static char msg[256];
	cmdline_parse(&c, in, sizeof(in) - 1, false);
	KEXPECT_EQ(c.opts.onexit, CMDLINE_ONEXIT_QEMU, "the byte-order mark hid nothing");
	KEXPECT_EQ(c.opts.syspte, SYSPTE_DEFAULT_SIZE);
	KEXPECT(!c.opts.mmapdump && !c.opts.ptdump && !c.opts.verifier, "0 and off are off");
	KEXPECT(c.opts.ktest[0] == 'c' && c.opts.ktest[7] == '_' && !c.opts.ktest[8], "a NUL separates words");
	KEXPECT_EQ(c.opts.exhaust, CMDLINE_EXHAUST_BUDGET, "the last occurrence wins");
	KASSERT_TEST(c.ndiag == ARRAY_SIZE(want), "got %zu diagnostics", c.ndiag);
	for (size_t i = 0; i < ARRAY_SIZE(want); i++)
		KEXPECT(c.diag[i].problem == want[i], "diagnostic %zu is problem %u, want %u", i, c.diag[i].problem, want[i]);
	KEXPECT_EQ(c.diag[6].suggest, CMDLINE_ONEXIT, "onexti suggests onexit");
	size_t n = cmdline_diag_format(&c, 3, msg, sizeof(msg));
	static const char expect[] = "cmdline: \"syspte=99999999999G\" ignored: larger than 512G; using syspte=1G";
	KEXPECT(n == sizeof(expect) - 1 && !memcmp(msg, expect, sizeof(expect)), "message: %s", msg);
}

/* What the kernel did at this boot agrees with the options it reported in effect. */
KTEST(cmdline_in_effect_matches_this_boot)
{
	const struct cmdline_opts *o = &kernel_cmdline.opts;
	struct syspte_stats s;
	syspte_get_stats(reserved_region(), &s);
	KEXPECT(s.npages << PAGE_SHIFT <= o->syspte, "region %llu pages, syspte=%llu", (unsigned long long)s.npages,
		(unsigned long long)o->syspte);
	KEXPECT_EQ(mm_verifier, o->verifier);
	KEXPECT(ktest_count(o->ktest) > 0, "this test runs, so the filter names a test");
	KEXPECT(smp_cpu_count() <= o->maxcpus && o->maxcpus >= 1 && o->maxcpus <= SMP_MAX_CPUS, "%u CPUs online, maxcpus=%u",
		smp_cpu_count(), o->maxcpus);
}

static size_t test_report_bytes;
static void test_count_sink(const char *s, size_t n) { (void)s; test_report_bytes += n; }

/* The command line's report reached the screen in full, once the screen existed. */
KTEST(cmdline_report_shown_on_screen)
{
	test_report_bytes = 0;
	size_t n = kernel_cmdline_report(test_count_sink);
	KEXPECT_EQ(test_report_bytes, n);
	if (!fbcon_active()) {
		KEXPECT_EQ(kernel_cmdline_screen_bytes, 0, "no screen");
		return;
	}
	KEXPECT_EQ(kernel_cmdline_screen_bytes, n, "every byte of the report went to the screen");
}

/* A ragged map from the loader (tools/ragged-map-test.sh boots one) was cut to its whole
 * descriptors, and the line saying so reached the screen in full, once the screen existed; a whole
 * map was taken as it came, and nothing was said. */
KTEST(mmap_cut_report_shown_on_screen)
{
	test_report_bytes = 0;
	size_t n = kernel_mmap_cut_report(test_count_sink);
	KEXPECT_EQ(test_report_bytes, n);
	KEXPECT_EQ(n != 0, kernel_mmap_cut.tail != 0, "a line exactly when the map had a tail");
	KEXPECT(kernel_mmap_cut.tail < kernel_bootinfo.mmap_desc_size, "the tail is shorter than a descriptor");
	KEXPECT_EQ(kernel_mmap_cut.whole * kernel_bootinfo.mmap_desc_size, kernel_bootinfo.mmap_size,
		   "the kernel's copy is the whole descriptors");
	KEXPECT_EQ(kernel_mmap_cut.bytes, kernel_bootinfo.mmap_size + kernel_mmap_cut.tail);
	if (n)
		kprintf("# mmapcut: %llu bytes, %llu descriptors, %llu bytes more; %zu bytes of report, %zu on the screen\n",
			(unsigned long long)kernel_mmap_cut.bytes, (unsigned long long)kernel_mmap_cut.whole,
			(unsigned long long)kernel_mmap_cut.tail, n, kernel_mmap_cut_screen_bytes);
	KEXPECT_EQ(kernel_mmap_cut_screen_bytes, fbcon_active() ? n : 0, "every byte of the report went to the screen");
}

KTEST(boot_info_sane)
{
	KEXPECT_EQ(kernel_bootinfo.magic, BOOTINFO_MAGIC);
	KEXPECT_EQ(kernel_bootinfo.kernel_virt_base, KERNEL_BASE);
	KEXPECT(IS_ALIGNED(kernel_bootinfo.kernel_phys_base, PAGE_SIZE));
	KEXPECT(kernel_bootinfo.mmap_desc_size >= 40);
	KEXPECT(kernel_bootinfo.rsdp_phys != 0, "OVMF and real PCs publish an ACPI RSDP");
}
