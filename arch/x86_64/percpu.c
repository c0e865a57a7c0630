/* The boot CPU's per-CPU data and the GS base (see percpu.h). */
#include "percpu.h"
#include "x86.h"

struct percpu percpu_boot;
struct percpu *percpu_of[SMP_MAX_CPUS];
struct percpu_boot_ist percpu_boot_ist[PERCPU_IST_COUNT];
extern char boot_stack_bottom[], boot_stack_top[];

void percpu_set_gs(struct percpu *pc)
{
	wrmsr(MSR_GS_BASE, (uint64_t)pc);
	wrmsr(MSR_KERNEL_GS_BASE, 0);
}

void percpu_init_boot(void)
{
	struct percpu *pc = &percpu_boot;

	pc->self = pc;
	pc->index = 0;
	pc->stack_top = (uint64_t)boot_stack_top;
	pc->stack_bottom = (uint64_t)boot_stack_bottom;
	for (int i = 0; i < PERCPU_IST_COUNT; i++)
		pc->ist_top[i] = (uint64_t)&percpu_boot_ist[i].stack[PERCPU_IST_SIZE];
	pc->state = PERCPU_ONLINE;
	percpu_of[0] = pc;
	percpu_set_gs(pc);
}
