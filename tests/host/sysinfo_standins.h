/*
 * Stand-ins for what kernel/sysinfo.c reads of the rest of the kernel (the CPU's features, the boot
 * information, the kernel's page tables, the TSC and the CPU counts), for host tests that build it
 * in. Include after kernel/sysinfo.c; the test sets kernel_bootinfo and provides kernel_memory_map.
 */
#ifndef TESTS_HOST_SYSINFO_STANDINS_H
#define TESTS_HOST_SYSINFO_STANDINS_H

struct cpu_features cpu_feat;
struct bootinfo kernel_bootinfo;
struct pt kernel_pt;
uint64_t tsc_at_kmain;
uint64_t tsc_read(void) { return 0; }
uint64_t tsc_calibrate(uint16_t port, bool pm32) { (void)port; (void)pm32; return 0; }
void tsc_set_hpet(volatile void *regs) { (void)regs; }
uint64_t tsc_pit_rejected(void) { return 0; }
uint64_t tsc_hz(void) { return 0; }
const char *tsc_source(void) { return "PIT"; }
uint64_t tsc_to_ms(uint64_t ticks) { return ticks; }
unsigned smp_cpu_count(void) { return 1; }
unsigned smp_cpus_found(void) { return 1; }

#endif
