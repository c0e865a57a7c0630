/*
 * Symbol lookup and frame-pointer backtraces (see ksyms.h). The kernel is built with
 * -fno-omit-frame-pointer, so each frame starts with { saved rbp, return address }.
 */
#include "types.h"
#include "vmlayout.h"
#include "kprintf.h"
#include "ksyms.h"

/* End of kernel text, from linker.ld; weak so a missing definition just disables the check. */
extern const char __text_end[] __attribute__((weak));

/* Lowest address a kernel stack frame may live at: the start of the higher half. */
#define KSYMS_STACK_MIN     DMAP_BASE
/* Largest gap between consecutive frames that is still believed to be on the same stack. */
#define KSYMS_FRAME_SPAN_MAX (64 * 1024)
/* Frame pointers are at least 8-byte aligned. */
#define KSYMS_FRAME_ALIGN   8
/* Bytes of a frame record: saved rbp and return address. */
#define KSYMS_FRAME_SIZE    16

/* True when addr lies within kernel text as far as the table and linker symbols know. */
static bool ksyms_in_text(uint64_t addr)
{
	uint64_t end = (uint64_t)(uintptr_t)__text_end;

	if (addr < KERNEL_BASE)
		return false;
	return end == 0 || addr < end;
}

/* Index of the last entry with address <= addr, or -1 if none. */
static int64_t ksyms_find(uint64_t addr)
{
	uint64_t lo = 0, hi = ksyms_count;     /* answer is in [lo - 1, hi - 1] */

	while (lo < hi) {
		uint64_t mid = lo + (hi - lo) / 2;
		if (ksyms_table[mid].addr <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return (int64_t)lo - 1;
}

/* Name of the function containing addr and the offset into it, or NULL (see ksyms.h). */
const char *ksyms_lookup(uint64_t addr, uint64_t *offset)
{
	int64_t i;

	if (ksyms_count == 0 || !ksyms_in_text(addr))
		return NULL;
	i = ksyms_find(addr);
	if (i < 0)
		return NULL;
	if (offset)
		*offset = addr - ksyms_table[i].addr;
	return ksyms_names + ksyms_table[i].name_offset;
}

/* True when rbp may be dereferenced as a frame record: higher half, aligned, no wrap-around. */
static bool ksyms_rbp_ok(uint64_t rbp)
{
	return rbp >= KSYMS_STACK_MIN && rbp % KSYMS_FRAME_ALIGN == 0 &&
	       rbp <= UINT64_MAX - KSYMS_FRAME_SIZE;
}

/*
 * Reads the frame record at *rbp (already checked): stores its return address in *ret and moves
 * *rbp to the caller's frame, or to 0 when that frame pointer is implausible. False when the
 * return address is outside kernel text (the end of the chain).
 */
static bool ksyms_step(uint64_t *rbp, uint64_t *ret)
{
	const volatile uint64_t *frame = (const volatile uint64_t *)(uintptr_t)*rbp;
	uint64_t next = frame[0];

	*ret = frame[1];
	if (!ksyms_in_text(*ret))
		return false;
	*rbp = ksyms_rbp_ok(next) && next > *rbp && next - *rbp <= KSYMS_FRAME_SPAN_MAX ? next : 0;
	return true;
}

/* Collects return addresses along the frame-pointer chain (see ksyms.h). */
int ksyms_stack_walk(uint64_t rbp, uint64_t *rets, int max)
{
	int n = 0;

	if (!ksyms_rbp_ok(rbp))
		return 0;
	while (n < max && rbp && ksyms_step(&rbp, &rets[n]))
		n++;
	return n;
}

/* Marks a symbol name cut to fit a backtrace line. */
#define KSYMS_CUT_MARK "..."

/*
 * Prints one backtrace line within KPRINTF_SCREEN_COLS, in one kprintf; a return address is
 * looked up one byte back (the call itself). A name too long for the line keeps its start and
 * ends in KSYMS_CUT_MARK (the address names the function anyway).
 */
static void ksyms_print_frame(int idx, uint64_t addr, bool is_return)
{
	char head[KPRINTF_SCREEN_COLS], tail[KPRINTF_SCREEN_COLS];
	uint64_t off = 0;
	const char *name = ksyms_lookup(is_return ? addr - 1 : addr, &off);

	int head_len = ksnprintf(head, sizeof(head), "  #%d 0x%016llx ", idx, (unsigned long long)addr);
	if (!name) {
		kprintf("%s?\n", head);
		return;
	}
	int tail_len = ksnprintf(tail, sizeof(tail), "+0x%llx", (unsigned long long)(off + (is_return ? 1 : 0)));
	int room = KPRINTF_SCREEN_COLS - head_len - tail_len, name_len = ksnprintf(NULL, 0, "%s", name);
	if (name_len <= room)
		kprintf("%s%s%s\n", head, name, tail);
	else
		kprintf("%s%.*s%s%s\n", head, MAX(room - (int)sizeof(KSYMS_CUT_MARK) + 1, 0), name, KSYMS_CUT_MARK, tail);
}

/* Prints rip and the callers found from rbp, at most max_frames lines (see ksyms.h). */
void ksyms_backtrace(uint64_t rbp, uint64_t rip, int max_frames)
{
	uint64_t ret;
	int idx = 0;

	if (max_frames <= 0)
		return;
	ksyms_print_frame(idx++, rip, false);
	if (!ksyms_rbp_ok(rbp))
		return;
	while (idx < max_frames && rbp && ksyms_step(&rbp, &ret))
		ksyms_print_frame(idx++, ret, true);
}
