/* Basic freestanding types shared by the kernel, the loader-facing headers and the host build. */
#ifndef TYPES_H
#define TYPES_H

#include <stdint.h>
#include <stddef.h>
#include <stdbool.h>

typedef uint64_t paddr_t;   /* a physical byte address */
typedef uint64_t vaddr_t;   /* a kernel virtual byte address as an integer */
typedef uint64_t pfn_t;     /* a physical page frame number: paddr >> PAGE_SHIFT */

#define PAGE_SHIFT 12
#define PAGE_SIZE  ((uint64_t)1 << PAGE_SHIFT)
#define PAGE_MASK  (PAGE_SIZE - 1)

#define SIZE_2M ((uint64_t)1 << 21)
#define SIZE_1G ((uint64_t)1 << 30)

#define ALIGN_DOWN(x, a) ((x) & ~((uint64_t)(a) - 1))
#define ALIGN_UP(x, a)   (((x) + ((uint64_t)(a) - 1)) & ~((uint64_t)(a) - 1))
#define IS_ALIGNED(x, a) (((x) & ((uint64_t)(a) - 1)) == 0)
#define ARRAY_SIZE(a)    (sizeof(a) / sizeof((a)[0]))
#define MIN(a, b)        ((a) < (b) ? (a) : (b))
#define MAX(a, b)        ((a) > (b) ? (a) : (b))

static inline pfn_t pa_to_pfn(paddr_t pa) { return pa >> PAGE_SHIFT; }
static inline paddr_t pfn_to_pa(pfn_t pfn) { return pfn << PAGE_SHIFT; }

/* True when [base, base+len) wraps past the top of the 64-bit address space. */
static inline bool range_overflows(uint64_t base, uint64_t len)
{
	return len != 0 && base + len - 1 < base;
}

#endif
