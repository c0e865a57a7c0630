/*
 * libFuzzer harness over the loader's ELF rules (boot/elf_check.c): the input is a kernel file.
 * elf_check() must read only inside it (ASan), leave it unchanged, give the same verdict twice,
 * and produce an outcome the independent judge (tests/host/elf_verify.h, the host property
 * test's) accepts: a plan whose every segment lies inside the input and the kernel window,
 * ascending, without overlap and W^X, with the entry in executable file bytes and true to the
 * program headers, whole notes and the loader's boot-information note, or a refusal whose named
 * reason holds. Seeds: tests/fuzz/corpus/fuzz_elf,
 * written by `build/tools/elf-mutate --corpus` (the synthetic kernel under every catalogue case).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "../../boot/elf_check.h"
#include "elf_verify.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Aborts with the judge's word: a libFuzzer crash. */
static void fail(const char *what, const struct elf_verdict *v)
{
	fprintf(stderr, "fuzz_elf: %s (verdict %s, phdr %d, other %d, value 0x%llx)\n", what,
		elf_rule_name(v->rule), v->phdr, v->other, (unsigned long long)v->value);
	abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t before[1 << 20];
	struct elf_plan plan, plan2;
	struct elf_verdict v, v2;
	size_t kept = size < sizeof(before) ? size : sizeof(before);
	const char *why;

	memcpy(before, data, kept);
	memset(&plan, 0xa5, sizeof(plan));
	memset(&v, 0xa5, sizeof(v));
	enum elf_rule rule = elf_check(data, size, &plan, &v);
	why = elf_verify(data, size, rule, &v, &plan);
	if (why != NULL)
		fail(why, &v);
	if (elf_check(data, size, &plan2, &v2) != rule || memcmp(&plan, &plan2, sizeof(plan)) != 0 ||
	    v2.phdr != v.phdr || v2.other != v.other || v2.value != v.value)
		fail("a second run disagrees", &v);
	if (memcmp(before, data, kept) != 0)
		fail("elf_check wrote to its input", &v);
	return 0;
}
