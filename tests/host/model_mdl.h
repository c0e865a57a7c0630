/*
 * Reference rules of a well-formed MDL (README "What a valid MDL is"), written apart from mm/mdl.c
 * so the model (model_syspte.c), the fuzzer and the property test of tests/host/test_mdl.c judge
 * the validator instead of repeating it. Returns 0 for a valid MDL, else the number of the first
 * rule broken, which is the documented bug-check subcode minus 0x4D440100:
 * 1 ByteOffset, 2 StartVa, 3 ByteCount, 4 range wraps, 5 Size, 6 flags, 7 frame.
 */
#ifndef MODEL_MDL_H
#define MODEL_MDL_H

#include <stdbool.h>
#include <stddef.h>
#include "wdm.h"
#include "bugcheck_codes.h"

#define REF_MDL_FOREIGN 0x8600u       /* FREE_EXTRA_PTES, DESCRIBES_AWE, INTERNAL */
#define REF_MDL_SUBCODE(r) (MDL_BUGCHECK_INVALID_BASE + (unsigned)(r))

/* True when m has room for a PFN array of pages entries: Size (unsigned 16 bits) holds it, or for
 * more than 65535 bytes the pool block does (pool_bytes), or else Size is the truncated need. */
static inline bool ref_mdl_room(const MDL *m, uint64_t pages, size_t pool_bytes)
{
	uint64_t need = 48 + 8 * pages, size = (uint16_t)m->Size;
	return need < 65536 ? size >= need : pool_bytes ? pool_bytes >= need : size == need % 65536;
}

/*
 * The rule broken by m, or 0; *p3 and *p4 (either may be NULL) get the bug check's documented P3
 * and P4. need_bytes: ByteCount 0 is an error; frames: every frame of the span must be below
 * 2^phys_bits; pool_bytes: the size of the pool block m starts, or 0 when m starts none.
 */
static inline int ref_mdl_check(const MDL *m, bool need_bytes, bool frames, unsigned phys_bits, size_t pool_bytes,
				uint64_t *p3, uint64_t *p4)
{
	unsigned __int128 start = (uint64_t)m->StartVa;
	uint64_t off = m->ByteOffset, count = m->ByteCount, sys = (uint64_t)m->MappedSystemVa;
	unsigned f = (uint16_t)m->MdlFlags;
	uint64_t v3 = 0, v4 = 0;
	int rule = 0;
	uint64_t pages = (off + count + 4095) / 4096;
	bool mapped = f & MDL_MAPPED_TO_SYSTEM_VA, parent = f & MDL_PARENT_MAPPED_SYSTEM_VA;
	bool partial = f & MDL_PARTIAL, pool = f & MDL_SOURCE_IS_NONPAGED_POOL;
	if (off > 4095)
		rule = 1, v3 = off;
	else if (start % 4096)
		rule = 2, v3 = (uint64_t)start;
	else if (count > 0xFFFFF000u || (need_bytes && !count))
		rule = 3, v3 = count;
	else if (start + off + count > ((unsigned __int128)1 << 64))
		rule = 4, v3 = (uint64_t)start, v4 = count;
	else if (!ref_mdl_room(m, pages, pool_bytes))
		rule = 5, v3 = (uint16_t)m->Size, v4 = 48 + 8 * pages;
	else if ((f & REF_MDL_FOREIGN) || ((f & MDL_PARTIAL_HAS_BEEN_MAPPED) && !(partial && mapped)) ||
		 (parent && !partial) || (mapped && !sys) || ((mapped || parent) && sys % 4096) ||
		 (pool && (mapped || parent)) || (pool && sys && sys != (uint64_t)start + off))
		rule = 6, v3 = f, v4 = sys;
	else
		for (uint64_t k = 0; frames && k < pages; k++)
			if (MmGetMdlPfnArray((PMDL)m)[k] >> (phys_bits - 12)) {
				rule = 7, v3 = MmGetMdlPfnArray((PMDL)m)[k], v4 = k;
				break;
			}
	if (p3)
		*p3 = v3;
	if (p4)
		*p4 = v4;
	return rule;
}

#endif
