/*
 * The interpreter of an executable file (see interp.h): pure, libc only.
 */
//kbuild:obj-$(CONFIG_HYPEMAN_INIT) += interp.o
#ifndef _GNU_SOURCE
# define _GNU_SOURCE
#endif
#include <elf.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>
#include "interp.h"

/* What the kernel reads of a "#!" line (BINPRM_BUF_SIZE). */
#define SHEBANG_MAX 256
/* More program headers than this is not an executable the kernel runs. */
#define PHNUM_MAX 4096

static int read_at(int fd, void *buf, size_t len, uint64_t off)
{
	ssize_t n = pread(fd, buf, len, (off_t)off);

	return n == (ssize_t)len ? 0 : -1;
}

static void copy_cut(char *dst, size_t dstlen, const char *src, size_t n)
{
	if (n >= dstlen)
		n = dstlen - 1;
	memcpy(dst, src, n);
	dst[n] = '\0';
}

/* "#!  /bin/bash -e\n": the first word after "#!" */
static enum hm_interp shebang(const char *head, size_t n, char *buf, size_t len)
{
	size_t i = 2, start;

	while (i < n && (head[i] == ' ' || head[i] == '\t'))
		i++;
	start = i;
	while (i < n && head[i] != ' ' && head[i] != '\t' && head[i] != '\n' && head[i] != '\0')
		i++;
	if (i == start)
		return HM_INTERP_NONE;
	copy_cut(buf, len, head + start, i - start);
	return HM_INTERP_SCRIPT;
}

/* A field of SIZE bytes at P in the file's byte order. */
static uint64_t field(const unsigned char *p, size_t size, int big)
{
	uint64_t v = 0;
	size_t i;

	for (i = 0; i < size; i++)
		v |= (uint64_t)p[big ? size - 1 - i : i] << (8 * i);
	return v;
}

/* Member M of the ELF header at EH or the program header at PH, read
 * from the 64- or 32-bit struct as the file is (is64, big in scope). */
#define MEMBER(base, type, m) field((base) + (is64 ? offsetof(Elf64_##type, m) \
	: offsetof(Elf32_##type, m)), is64 ? sizeof(((Elf64_##type *)0)->m) \
	: sizeof(((Elf32_##type *)0)->m), big)

static enum hm_interp elf_interp(int fd, const unsigned char *eh, char *buf, size_t len)
{
	int is64 = eh[EI_CLASS] == ELFCLASS64, big = eh[EI_DATA] == ELFDATA2MSB;
	uint64_t phoff = MEMBER(eh, Ehdr, e_phoff);
	unsigned phentsize = MEMBER(eh, Ehdr, e_phentsize), phnum = MEMBER(eh, Ehdr, e_phnum), i;
	unsigned char ph[sizeof(Elf64_Phdr)];
	size_t need = is64 ? sizeof(Elf64_Phdr) : sizeof(Elf32_Phdr);

	if ((eh[EI_CLASS] != ELFCLASS32 && !is64) || phentsize < need || phnum > PHNUM_MAX)
		return HM_INTERP_NONE;
	for (i = 0; i < phnum; i++) {
		uint64_t off, size;
		char path[4096];

		if (read_at(fd, ph, need, phoff + (uint64_t)i * phentsize) != 0)
			return HM_INTERP_NONE;
		if (MEMBER(ph, Phdr, p_type) != PT_INTERP)
			continue;
		off = MEMBER(ph, Phdr, p_offset);
		size = MEMBER(ph, Phdr, p_filesz);
		if (size == 0 || size > sizeof(path) || read_at(fd, path, size, off) != 0)
			return HM_INTERP_NONE;
		/* the segment holds the path and its NUL; one that starts
		 * with the NUL names "" (hm_explain_enoent says so) */
		copy_cut(buf, len, path, strnlen(path, size));
		return HM_INTERP_ELF;
	}
	return HM_INTERP_NONE;
}

enum hm_interp hm_interpreter_of(int fd, char *buf, size_t len)
{
	unsigned char head[SHEBANG_MAX];
	ssize_t n;

	if (len == 0)
		return HM_INTERP_NONE;
	buf[0] = '\0';
	n = pread(fd, head, sizeof(head), 0);
	if (n >= 2 && head[0] == '#' && head[1] == '!')
		return shebang((const char *)head, n, buf, len);
	/* an ELF file shorter than Elf64_Ehdr has no program headers */
	if (n >= (ssize_t)sizeof(Elf64_Ehdr) && memcmp(head, ELFMAG, SELFMAG) == 0)
		return elf_interp(fd, head, buf, len);
	return HM_INTERP_NONE;
}

const char *hm_explain_enoent(const char *path, char *buf, size_t len)
{
	char interp[256];
	enum hm_interp kind;
	const char *what;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return NULL;
	kind = hm_interpreter_of(fd, interp, sizeof(interp));
	close(fd);
	if (kind == HM_INTERP_NONE)
		return NULL;
	if (!interp[0]) {
		snprintf(buf, len, "its ELF interpreter (dynamic loader) is an empty path: "
			"its PT_INTERP starts with a NUL byte");
		return buf;
	}
	what = kind == HM_INTERP_SCRIPT ? "its interpreter %s (its #! line)"
			: "its ELF interpreter (dynamic loader) %s";
	if (snprintf(buf, len, what, interp) < 0)
		return NULL;
	/* the interpreter may exist and fail the same way (a script whose
	 * interpreter is a script, a loader for another libc...) */
	snprintf(buf + strlen(buf), len - strlen(buf), "%s",
		access(interp, F_OK) == 0 ? " cannot be started either" : " is not in the image");
	return buf;
}
