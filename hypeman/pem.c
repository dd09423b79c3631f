/*
 * hypeman-init: PEM certificates recognised by their armour and base64
 * (see pem.h). Pure: libc only.
 */
//kbuild:obj-$(CONFIG_HYPEMAN_INIT) += pem.o

#include <string.h>
#include "pem.h"

#define BEGIN "-----BEGIN CERTIFICATE-----"
#define END   "-----END CERTIFICATE-----"
#define SPACE " \t\r\n"
#define B64   "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"

/* The length of the base64 at S (whitespace between its characters, '='
 * padding at its end), or 0 when it is not whole groups of four. */
static size_t base64_len(const char *s, size_t *chars)
{
	const char *p = s;
	size_t n;

	*chars = 0;
	for (;;) {
		p += strspn(p, SPACE);
		n = strspn(p, B64);
		if (n == 0)
			break;
		*chars += n;
		p += n;
	}
	n = strspn(p, "=");
	*chars += n;
	p += n;
	p += strspn(p, SPACE);
	return n <= 2 && *chars && *chars % 4 == 0 ? (size_t)(p - s) : 0;
}

int hm_pem_certificates(const char *text, const char **why)
{
	const char *s = text, *dummy;
	size_t len, chars;
	int n = 0;

	if (!why)
		why = &dummy;
	*why = "no " BEGIN " line";
	/* each armour line starts a line, and ends at its newline or the text's end */
	while ((s = strstr(s, BEGIN)) != NULL) {
		if ((s != text && s[-1] != '\n') || !strchr("\r\n", s[sizeof(BEGIN) - 1]))
			return 0;
		s += sizeof(BEGIN) - 1;
		len = base64_len(s, &chars);
		if (len == 0) {
			*why = "a certificate's body is not whole base64";
			return 0;
		}
		s += len;
		if (strncmp(s, END, sizeof(END) - 1) != 0 || s[-1] != '\n'
		 || !strchr("\r\n", s[sizeof(END) - 1])) {
			*why = "a certificate has no " END " line after its body";
			return 0;
		}
		s += sizeof(END) - 1;
		n++;
	}
	return n;
}
