/*
 * elf-mutate: writes malformed kernels from the case catalogue (tests/host/elf_cases.h) and
 * checks, with the loader's own elf_check(), that each gets the verdict its case expects.
 *
 *   elf-mutate KERNEL CASE OUT    apply CASE to the kernel file KERNEL, write OUT; prints the
 *                                 rule's name and the loader's problem text
 *   elf-mutate --synthetic CASE OUT   the same on the synthetic minimal kernel
 *   elf-mutate --corpus DIR       the synthetic kernel under every case, one file per case
 *                                 (the fuzz seed corpus: tests/fuzz/corpus/fuzz_elf)
 *   elf-mutate --check FILE       print FILE's verdict; exit 0 if accepted, 1 if refused
 *   elf-mutate --list             the cases and their rules
 *
 * Exit status 2 when a case does not fit the input or gets another verdict than expected.
 * Built by `make build/tools/elf-mutate` and used by tools/loader-test.sh.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "../boot/elf_check.h"
#include "../tests/host/elf_cases.h"

/* Reads the whole file at `path` into *img. */
static void read_file(const char *path, struct elf_image *img)
{
	FILE *f = fopen(path, "rb");
	long len;

	if (f == NULL || fseek(f, 0, SEEK_END) != 0 || (len = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0) {
		perror(path);
		exit(2);
	}
	img->buf = NULL;
	img->len = img->cap = 0;
	img->want_phdr = img->want_other = -1;
	img_reserve(img, (size_t)len);
	if (fread(img->buf, 1, (size_t)len, f) != (size_t)len) {
		perror(path);
		exit(2);
	}
	img->len = (size_t)len;
	fclose(f);
}

/* Writes the image to `path`. */
static void write_file(const char *path, const struct elf_image *img)
{
	FILE *f = fopen(path, "wb");

	if (f == NULL || fwrite(img->buf, 1, img->len, f) != img->len || fclose(f) != 0) {
		perror(path);
		exit(2);
	}
}

/* Prints a verdict as the loader would name it. */
static void print_verdict(const struct elf_verdict *v)
{
	printf("%s: %s", elf_rule_name(v->rule), elf_rule_problem(v->rule));
	if (v->phdr >= 0)
		printf(" (program header %d%s", v->phdr, v->other >= 0 ? "" : ")");
	if (v->other >= 0)
		printf(" and %d)", v->other);
	printf("\n");
}

/* Applies case `name` to *img, checks the verdict against the case, writes `out`. */
static void make_case(struct elf_image *img, const char *name, const char *out)
{
	const struct elf_case *c = elf_case_find(name);
	struct elf_plan plan;
	struct elf_verdict v;

	if (c == NULL) {
		fprintf(stderr, "elf-mutate: no case %s (--list names them)\n", name);
		exit(2);
	}
	c->mutate(img);
	elf_check(img->buf, img->len, &plan, &v);
	if (v.rule != c->rule || v.phdr != img->want_phdr || v.other != img->want_other) {
		fprintf(stderr, "elf-mutate: case %s expects %s (phdr %d, other %d), elf_check says ", name,
			elf_rule_name(c->rule), img->want_phdr, img->want_other);
		fflush(stderr);
		print_verdict(&v);
		exit(2);
	}
	write_file(out, img);
	print_verdict(&v);
}

int main(int argc, char **argv)
{
	struct elf_image img;

	if (argc == 2 && !strcmp(argv[1], "--list")) {
		for (size_t i = 0; i < ELF_NCASES; i++)
			printf("%s %s\n", elf_cases[i].name, elf_rule_name(elf_cases[i].rule));
		return 0;
	}
	if (argc == 3 && !strcmp(argv[1], "--check")) {
		struct elf_plan plan;
		struct elf_verdict v;

		read_file(argv[2], &img);
		elf_check(img.buf, img.len, &plan, &v);
		img_free(&img);
		print_verdict(&v);
		return v.rule == ELF_OK ? 0 : 1;
	}
	if (argc == 3 && !strcmp(argv[1], "--corpus")) {
		char path[4096];

		for (size_t i = 0; i < ELF_NCASES; i++) {
			snprintf(path, sizeof(path), "%s/%s", argv[2], elf_cases[i].name);
			img_synthetic(&img);
			make_case(&img, elf_cases[i].name, path);
			img_free(&img);
		}
		return 0;
	}
	if (argc == 4) {
		if (!strcmp(argv[1], "--synthetic"))
			img_synthetic(&img);
		else
			read_file(argv[1], &img);
		make_case(&img, argv[2], argv[3]);
		img_free(&img);
		return 0;
	}
	fprintf(stderr, "usage: elf-mutate KERNEL|--synthetic CASE OUT | --corpus DIR | --check FILE | --list\n");
	return 2;
}
