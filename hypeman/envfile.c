/*
 * hypeman-init: KEY="VALUE" lines for systemd's EnvironmentFile= (the
 * guest agent unit's /etc/hypeman/env), see envfile.h.
 */
//kbuild:obj-$(CONFIG_HYPEMAN_INIT) += envfile.o

#include <stdlib.h>
#include <string.h>
#include "envfile.h"

/*
 * Inside double quotes systemd keeps every byte as it is (newlines,
 * tabs, single quotes too) except after a backslash: \" \\ \$ \` give
 * the character, a backslash-newline is dropped. Escaping exactly these
 * four is what systemd's own writer does; old systemd (which drops the
 * backslash before any character) reads them the same, and so does sh.
 */
static const char need_escape[] = "\"\\$`";

char *hm_envfile_line(const char *key, const char *value)
{
	size_t klen = strlen(key), n = klen + 5;	/* ="" \n NUL */
	const char *s;
	char *line, *p;

	/* Whitespace and '=' would split the key, '#' or ';' make a comment. */
	if (!key[0] || key[0] == '#' || key[0] == ';' || strpbrk(key, "= \t\n\r"))
		return strdup("");
	for (s = value; *s; s++)
		n += 1 + (strchr(need_escape, *s) != NULL);
	line = malloc(n);
	if (!line)
		return NULL;
	memcpy(line, key, klen);
	p = line + klen;
	*p++ = '=';
	*p++ = '"';
	for (s = value; *s; s++) {
		if (strchr(need_escape, *s))
			*p++ = '\\';
		*p++ = *s;
	}
	*p++ = '"';
	*p++ = '\n';
	*p = '\0';
	return line;
}
