/*
 * Formatted output for the kernel: a freestanding printf core shared by ksnprintf (into a buffer)
 * and kprintf (through a stack buffer to console_write, in pieces, so output is never truncated).
 *
 * Conversions: %d %i %u %o %x %X %p %s %c %%. Flags: '-' '0' '+' ' ' '#'. Width and precision as
 * digits or '*'. Length modifiers: hh h l ll z j t. Semantics follow C99 printf (as glibc does, so
 * host and kernel builds print the same text): %p prints "0x" and minimal hex digits, or "(nil)"
 * for NULL; a NULL %s prints "(null)"; an unknown conversion is copied through verbatim.
 */
#include "types.h"
#include "kprintf.h"

/* Implemented by the console layer (serial and framebuffer); must accept any byte sequence. */
extern void console_write(const char *s, size_t n);

/* Bytes kprintf formats on the stack before handing them to console_write. */
#define PRINTF_CHUNK 512
/* Digits of the longest conversion: a 64-bit value in octal (22 digits) plus slack. */
#define PRINTF_NUM_MAX 24
/* Width and precision values are clamped to this to keep int arithmetic from overflowing. */
#define PRINTF_FIELD_MAX 4096

#define PRINTF_F_LEFT  0x01  /* '-': left-justify in the field */
#define PRINTF_F_ZERO  0x02  /* '0': pad numbers with zeros */
#define PRINTF_F_PLUS  0x04  /* '+': always print a sign for signed conversions */
#define PRINTF_F_SPACE 0x08  /* ' ': a space where a '+' would go */
#define PRINTF_F_ALT   0x10  /* '#': 0x / 0 prefix for hex / octal */

enum printf_len { PRINTF_LEN_INT, PRINTF_LEN_CHAR, PRINTF_LEN_SHORT, PRINTF_LEN_LONG,
		  PRINTF_LEN_LLONG, PRINTF_LEN_SIZE, PRINTF_LEN_MAX, PRINTF_LEN_PTRDIFF };

/* Where formatted bytes go: a buffer of cap bytes, flushed to flush() when full if flush is set. */
struct printf_out {
	char *buf;
	size_t cap;         /* usable bytes in buf (excluding any NUL reserve) */
	size_t fill;        /* bytes currently in buf */
	size_t total;       /* bytes produced so far, including those dropped or flushed */
	void (*flush)(const char *s, size_t n);
};

/* One parsed conversion specification. */
struct printf_spec {
	unsigned flags;     /* PRINTF_F_* */
	int width;          /* minimum field width, 0 = none */
	int prec;           /* precision, -1 = none */
	enum printf_len len;
};

/* Appends one byte: stores it if there is room, else flushes first or drops it; counts it always. */
static void printf_putc(struct printf_out *o, char c)
{
	if (o->fill == o->cap && o->flush) {
		o->flush(o->buf, o->fill);
		o->fill = 0;
	}
	if (o->fill < o->cap)
		o->buf[o->fill++] = c;
	o->total++;
}

/* Appends n copies of c. */
static void printf_pad(struct printf_out *o, char c, int n)
{
	while (n-- > 0)
		printf_putc(o, c);
}

/* Appends n bytes of s. */
static void printf_puts(struct printf_out *o, const char *s, size_t n)
{
	while (n--)
		printf_putc(o, *s++);
}

/* Length of s, at most max bytes (max < 0: unbounded). */
static size_t printf_strnlen(const char *s, int max)
{
	size_t n = 0;
	while ((max < 0 || n < (size_t)max) && s[n])
		n++;
	return n;
}

/* Emits s (n bytes) right- or left-justified in the spec's width with spaces. */
static void printf_field(struct printf_out *o, const struct printf_spec *sp, const char *s, size_t n)
{
	int pad = sp->width > (int)n ? sp->width - (int)n : 0;

	if (!(sp->flags & PRINTF_F_LEFT))
		printf_pad(o, ' ', pad);
	printf_puts(o, s, n);
	if (sp->flags & PRINTF_F_LEFT)
		printf_pad(o, ' ', pad);
}

/* Writes v in base (8, 10 or 16) backwards ending at end; returns the digit count (0 for v == 0). */
static int printf_digits(char *end, uint64_t v, unsigned base, bool upper)
{
	const char *dig = upper ? "0123456789ABCDEF" : "0123456789abcdef";
	int n = 0;

	while (v) {
		*--end = dig[v % base];
		v /= base;
		n++;
	}
	return n;
}

/* Emits an integer: prefix (sign or 0x), zero padding to precision or width, digits, field padding. */
static void printf_number(struct printf_out *o, const struct printf_spec *sp, uint64_t mag,
			  const char *prefix, unsigned base, bool upper)
{
	char tmp[PRINTF_NUM_MAX];
	int ndig = printf_digits(tmp + sizeof(tmp), mag, base, upper);
	int plen = (int)printf_strnlen(prefix, -1);
	int zeros = 0, total, pad;

	if (sp->prec < 0 && ndig == 0)
		ndig = 1, tmp[sizeof(tmp) - 1] = '0';           /* plain 0 prints one digit */
	if (sp->prec > ndig)
		zeros = sp->prec - ndig;
	if (base == 8 && (sp->flags & PRINTF_F_ALT) && zeros == 0 &&
	    (ndig == 0 || tmp[sizeof(tmp) - ndig] != '0'))
		zeros = 1;                                       /* '#o': leading 0 */
	total = plen + zeros + ndig;
	pad = sp->width > total ? sp->width - total : 0;
	if ((sp->flags & PRINTF_F_ZERO) && !(sp->flags & PRINTF_F_LEFT) && sp->prec < 0)
		zeros += pad, pad = 0;
	if (!(sp->flags & PRINTF_F_LEFT))
		printf_pad(o, ' ', pad);
	printf_puts(o, prefix, (size_t)plen);
	printf_pad(o, '0', zeros);
	printf_puts(o, tmp + sizeof(tmp) - ndig, (size_t)ndig);
	if (sp->flags & PRINTF_F_LEFT)
		printf_pad(o, ' ', pad);
}

/* Fetches a signed argument of the spec's length. */
static int64_t printf_arg_signed(const struct printf_spec *sp, va_list *ap)
{
	switch (sp->len) {
	case PRINTF_LEN_CHAR:    return (signed char)va_arg(*ap, int);
	case PRINTF_LEN_SHORT:   return (short)va_arg(*ap, int);
	case PRINTF_LEN_LONG:    return va_arg(*ap, long);
	case PRINTF_LEN_LLONG:   return va_arg(*ap, long long);
	case PRINTF_LEN_SIZE:    return (int64_t)va_arg(*ap, size_t);
	case PRINTF_LEN_MAX:     return va_arg(*ap, intmax_t);
	case PRINTF_LEN_PTRDIFF: return va_arg(*ap, ptrdiff_t);
	default:                 return va_arg(*ap, int);
	}
}

/* Fetches an unsigned argument of the spec's length. */
static uint64_t printf_arg_unsigned(const struct printf_spec *sp, va_list *ap)
{
	switch (sp->len) {
	case PRINTF_LEN_CHAR:    return (unsigned char)va_arg(*ap, unsigned);
	case PRINTF_LEN_SHORT:   return (unsigned short)va_arg(*ap, unsigned);
	case PRINTF_LEN_LONG:    return va_arg(*ap, unsigned long);
	case PRINTF_LEN_LLONG:   return va_arg(*ap, unsigned long long);
	case PRINTF_LEN_SIZE:    return va_arg(*ap, size_t);
	case PRINTF_LEN_MAX:     return va_arg(*ap, uintmax_t);
	case PRINTF_LEN_PTRDIFF: return (uint64_t)va_arg(*ap, ptrdiff_t);
	default:                 return va_arg(*ap, unsigned);
	}
}

/* Parses a decimal number or '*' at *pf (advancing it); returns -1 for a negative '*' value. */
static int printf_parse_num(const char **pf, va_list *ap)
{
	int v = 0;

	if (**pf == '*') {
		(*pf)++;
		v = va_arg(*ap, int);
		return v < 0 ? -1 : MIN(v, PRINTF_FIELD_MAX);
	}
	while (**pf >= '0' && **pf <= '9') {
		if (v < PRINTF_FIELD_MAX)
			v = v * 10 + (**pf - '0');
		(*pf)++;
	}
	return MIN(v, PRINTF_FIELD_MAX);
}

/* Parses flags, width, precision and length after a '%'; leaves *pf at the conversion byte. */
static void printf_parse_spec(const char **pf, va_list *ap, struct printf_spec *sp)
{
	const char *f = *pf;

	sp->flags = 0;
	for (;; f++) {
		if (*f == '-')      sp->flags |= PRINTF_F_LEFT;
		else if (*f == '0') sp->flags |= PRINTF_F_ZERO;
		else if (*f == '+') sp->flags |= PRINTF_F_PLUS;
		else if (*f == ' ') sp->flags |= PRINTF_F_SPACE;
		else if (*f == '#') sp->flags |= PRINTF_F_ALT;
		else break;
	}
	if (*f == '*') {
		int w;
		f++;
		w = va_arg(*ap, int);
		if (w < 0)                                       /* C99: negative width = '-' flag */
			sp->flags |= PRINTF_F_LEFT, w = w == INT32_MIN ? PRINTF_FIELD_MAX : -w;
		sp->width = MIN(w, PRINTF_FIELD_MAX);
	} else {
		sp->width = printf_parse_num(&f, ap);
	}
	sp->prec = -1;
	if (*f == '.') {
		f++;
		sp->prec = printf_parse_num(&f, ap);
	}
	sp->len = PRINTF_LEN_INT;
	if (*f == 'h') {
		f++;
		sp->len = PRINTF_LEN_SHORT;
		if (*f == 'h')
			f++, sp->len = PRINTF_LEN_CHAR;
	} else if (*f == 'l') {
		f++;
		sp->len = PRINTF_LEN_LONG;
		if (*f == 'l')
			f++, sp->len = PRINTF_LEN_LLONG;
	} else if (*f == 'z') {
		f++, sp->len = PRINTF_LEN_SIZE;
	} else if (*f == 'j') {
		f++, sp->len = PRINTF_LEN_MAX;
	} else if (*f == 't') {
		f++, sp->len = PRINTF_LEN_PTRDIFF;
	}
	*pf = f;
}

/* Emits a signed decimal conversion (%d %i). */
static void printf_conv_signed(struct printf_out *o, const struct printf_spec *sp, va_list *ap)
{
	int64_t v = printf_arg_signed(sp, ap);
	uint64_t mag = v < 0 ? -(uint64_t)v : (uint64_t)v;   /* exact for INT64_MIN too */
	const char *prefix = v < 0 ? "-" : (sp->flags & PRINTF_F_PLUS) ? "+" :
			     (sp->flags & PRINTF_F_SPACE) ? " " : "";

	printf_number(o, sp, mag, prefix, 10, false);
}

/* Emits an unsigned conversion (%u %o %x %X). */
static void printf_conv_unsigned(struct printf_out *o, const struct printf_spec *sp, va_list *ap,
				 char conv)
{
	uint64_t v = printf_arg_unsigned(sp, ap);
	unsigned base = conv == 'u' ? 10 : conv == 'o' ? 8 : 16;
	const char *prefix = "";

	if (base == 16 && (sp->flags & PRINTF_F_ALT) && v != 0)
		prefix = conv == 'X' ? "0X" : "0x";
	printf_number(o, sp, v, prefix, base, conv == 'X');
}

/* Emits %p: "0x" and lowercase hex, or "(nil)" for NULL. */
static void printf_conv_pointer(struct printf_out *o, const struct printf_spec *sp, va_list *ap)
{
	uint64_t v = (uint64_t)(uintptr_t)va_arg(*ap, void *);
	struct printf_spec psp = *sp;

	if (v == 0) {
		printf_field(o, sp, "(nil)", 5);
		return;
	}
	psp.flags &= ~(unsigned)(PRINTF_F_PLUS | PRINTF_F_SPACE);
	printf_number(o, &psp, v, "0x", 16, false);
}

/* Emits %s honouring the precision as a maximum length; NULL prints "(null)". */
static void printf_conv_string(struct printf_out *o, const struct printf_spec *sp, va_list *ap)
{
	const char *s = va_arg(*ap, const char *);

	if (!s)
		s = "(null)";
	printf_field(o, sp, s, printf_strnlen(s, sp->prec));
}

/* Formats fmt with ap into o. */
static void printf_format(struct printf_out *o, const char *fmt, va_list ap_in)
{
	struct printf_spec sp;
	va_list ap;

	va_copy(ap, ap_in);
	while (*fmt) {
		const char *start = fmt;
		char c;

		if (*fmt != '%') {
			printf_putc(o, *fmt++);
			continue;
		}
		fmt++;
		printf_parse_spec(&fmt, &ap, &sp);
		c = *fmt;
		if (c)
			fmt++;
		switch (c) {
		case 'd': case 'i':
			printf_conv_signed(o, &sp, &ap);
			break;
		case 'u': case 'o': case 'x': case 'X':
			printf_conv_unsigned(o, &sp, &ap, c);
			break;
		case 'p':
			printf_conv_pointer(o, &sp, &ap);
			break;
		case 's':
			printf_conv_string(o, &sp, &ap);
			break;
		case 'c': {
			char ch = (char)va_arg(ap, int);
			printf_field(o, &sp, &ch, 1);
			break;
		}
		case '%':
			printf_putc(o, '%');
			break;
		default:                                         /* unknown: copy the spec through */
			printf_puts(o, start, (size_t)(fmt - start));
			break;
		}
	}
	va_end(ap);
}

/* Formats into buf (size bytes, NUL-terminated when size > 0); returns the untruncated length. */
int kvsnprintf(char *buf, size_t size, const char *fmt, va_list ap)
{
	struct printf_out o = { .buf = buf, .cap = size ? size - 1 : 0, .fill = 0, .total = 0,
				.flush = NULL };

	printf_format(&o, fmt, ap);
	if (size)
		buf[o.fill] = '\0';
	return o.total > (size_t)INT32_MAX ? INT32_MAX : (int)o.total;
}

/* Variadic form of kvsnprintf. */
int ksnprintf(char *buf, size_t size, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = kvsnprintf(buf, size, fmt, ap);
	va_end(ap);
	return n;
}

/* Formats to the console in PRINTF_CHUNK pieces; returns the number of bytes written. */
int kvprintf(const char *fmt, va_list ap)
{
	char buf[PRINTF_CHUNK];
	struct printf_out o = { .buf = buf, .cap = sizeof(buf), .fill = 0, .total = 0,
				.flush = console_write };

	printf_format(&o, fmt, ap);
	if (o.fill)
		console_write(buf, o.fill);
	return o.total > (size_t)INT32_MAX ? INT32_MAX : (int)o.total;
}

/* Variadic form of kvprintf. */
int kprintf(const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = kvprintf(fmt, ap);
	va_end(ap);
	return n;
}
