/*
 * hypeman run: applying the image layers onto the rootfs tree.
 *
 * For each layer, lowest first:
 *  1. list it (tar -tv) and refuse names with ".." components (a leading
 *     "/" is dropped: names are relative to the root);
 *     collect the whiteouts and the directories the layer names itself;
 *  2. apply the whiteouts to the tree built so far (they only act on
 *     lower layers): .wh..wh..opq empties its directory, .wh.NAME
 *     removes NAME;
 *  3. extract the layer, without its .wh.* entries, into an EMPTY
 *     staging directory (GNU tar is safe there: no symlink from a lower
 *     layer can lead it out), then move it into the tree with rename(2).
 *     Paths in the tree are resolved as in a chroot (openat2
 *     RESOLVE_IN_ROOT): a symlink of the image never leads outside it.
 * The first layer is extracted straight into the (empty) tree.
 *
 * A directory of the layer that meets a directory of the tree is merged;
 * its metadata replaces the lower one only when the layer has an entry
 * for it (not when tar made it as the parent of a file). A directory the
 * layer lists itself replaces a symlink of the tree; a directory it only
 * implies follows that symlink (as a chroot would), unless it dangles.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/xattr.h>
#include <unistd.h>
#include "hypeman.h"

#define WH ".wh."
#define WH_OPQ ".wh..wh..opq"

struct whiteout {
	char *parent;		/* normalized, relative to the root; "" for / */
	char *base;		/* ".wh.NAME" or ".wh..wh..opq" */
};

struct listing {
	struct whiteout *wh;
	size_t n_wh, cap_wh;
	char **dirs;		/* directories the layer names (sorted) */
	size_t n_dirs, cap_dirs;
	size_t members;
};

struct tree {
	int rootfd;
	char *rootpath;		/* realpath of the root */
	size_t rootlen;
	const struct listing *ls;
	const char *what;	/* "layer 2/3 (sha256:...)" for messages */
};

static void listing_free(struct listing *l)
{
	size_t i;

	for (i = 0; i < l->n_wh; i++) {
		free(l->wh[i].parent);
		free(l->wh[i].base);
	}
	for (i = 0; i < l->n_dirs; i++)
		free(l->dirs[i]);
	free(l->wh);
	free(l->dirs);
	memset(l, 0, sizeof(*l));
}

static char *join(const char *a, const char *b)
{
	return a[0] ? xasprintf("%s/%s", a, b) : xstrdup(b);
}

/*
 * Decodes a --quoting-style=c string starting at the opening quote *pp;
 * advances *pp past the closing quote. NULL when malformed.
 */
static char *cquoted(const char **pp)
{
	const char *p = *pp;
	size_t n = 0;
	char *out;

	if (*p != '"')
		return NULL;
	out = xmalloc(strlen(p));
	for (p++; *p && *p != '"'; p++) {
		if (*p != '\\') {
			out[n++] = *p;
			continue;
		}
		p++;
		switch (*p) {
		case 'a': out[n++] = '\a'; break;
		case 'b': out[n++] = '\b'; break;
		case 'f': out[n++] = '\f'; break;
		case 'n': out[n++] = '\n'; break;
		case 'r': out[n++] = '\r'; break;
		case 't': out[n++] = '\t'; break;
		case 'v': out[n++] = '\v'; break;
		case '0': case '1': case '2': case '3':
		case '4': case '5': case '6': case '7': {
			int v = 0, k;

			for (k = 0; k < 3 && *p >= '0' && *p <= '7'; k++, p++)
				v = v * 8 + (*p - '0');
			p--;
			if (v == 0) {	/* a NUL cannot be in a file name */
				free(out);
				return NULL;
			}
			out[n++] = (char)v;
			break;
		}
		case 0:
			free(out);
			return NULL;
		default:	/* \\ \" \? and anything else: the character */
			out[n++] = *p;
		}
	}
	if (*p != '"') {
		free(out);
		return NULL;
	}
	out[n] = 0;
	*pp = p + 1;
	return out;
}

/*
 * A member name made relative and canonical ("./a//b/" -> "a/b", "/etc"
 * -> "etc"; the root is ""): names are taken relative to the root, as
 * GNU tar does (umoci writes the root as "/"). NULL, with *why set, for
 * names with a ".." component: those could climb out of the root.
 */
static char *normalize(const char *name, const char **why)
{
	char *copy, *out, *tok, *save = NULL;
	size_t n = 0;

	copy = xstrdup(name);
	out = xmalloc(strlen(name) + 1);
	out[0] = 0;
	for (tok = strtok_r(copy, "/", &save); tok; tok = strtok_r(NULL, "/", &save)) {
		if (!strcmp(tok, "."))
			continue;
		if (!strcmp(tok, "..")) {
			free(copy);
			free(out);
			*why = "\"..\" in the path";
			return NULL;
		}
		n += sprintf(out + n, "%s%s", n ? "/" : "", tok);
	}
	free(copy);
	return out;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool named_dir(const struct listing *l, const char *rel)
{
	return l->n_dirs && bsearch(&rel, l->dirs, l->n_dirs, sizeof(char *), cmp_str);
}

/* The safe form of a member name for messages. */
static void printable(const char *s, char *out, size_t outlen)
{
	size_t n = 0;

	for (; *s && n + 5 < outlen; s++) {
		unsigned char c = *s;

		if (c < 0x20 || c == 0x7f || c == '\\')
			n += sprintf(out + n, "\\x%02x", c);
		else
			out[n++] = c;
	}
	out[n] = 0;
}

/* Parses one line of `tar -tv --quoting-style=c --numeric-owner`. */
static int list_line(struct listing *l, const char *line, const char *what)
{
	const char *p = strchr(line, '"'), *why = NULL;
	char type = line[0], *name, *rel, *slash, shown[300];

	if (!p || !(name = cquoted(&p))) {
		msg("%s: cannot parse tar's listing line: %.200s", what, line);
		return -1;
	}
	rel = normalize(name, &why);
	if (!rel) {
		printable(name, shown, sizeof(shown));
		msg("%s: refusing member \"%s\": %s", what, shown, why);
		free(name);
		return -1;
	}
	l->members++;
	if (type == 'h' && !strncmp(p, " link to ", 9)) {
		const char *q = p + 9;
		char *target = cquoted(&q), *trel;

		if (!target) {
			msg("%s: cannot parse tar's listing line: %.200s", what, line);
			free(name);
			free(rel);
			return -1;
		}
		trel = normalize(target, &why);
		if (!trel) {
			printable(target, shown, sizeof(shown));
			msg("%s: refusing hard link to \"%s\": %s", what, shown, why);
			free(target);
			free(name);
			free(rel);
			return -1;
		}
		free(trel);
		free(target);
	}
	free(name);
	slash = strrchr(rel, '/');
	if (!strncmp(slash ? slash + 1 : rel, WH, strlen(WH))) {
		if (l->n_wh == l->cap_wh) {
			l->cap_wh = l->cap_wh ? l->cap_wh * 2 : 16;
			l->wh = xrealloc(l->wh, l->cap_wh * sizeof(*l->wh));
		}
		if (slash) {
			*slash = 0;
			l->wh[l->n_wh].parent = rel;
			l->wh[l->n_wh].base = xstrdup(slash + 1);
		} else {
			l->wh[l->n_wh].parent = xstrdup("");
			l->wh[l->n_wh].base = rel;
		}
		l->n_wh++;
		return 0;
	}
	if (type == 'd' && rel[0]) {
		if (l->n_dirs == l->cap_dirs) {
			l->cap_dirs = l->cap_dirs ? l->cap_dirs * 2 : 64;
			l->dirs = xrealloc(l->dirs, l->cap_dirs * sizeof(*l->dirs));
		}
		l->dirs[l->n_dirs++] = rel;
		return 0;
	}
	free(rel);
	return 0;
}

/* tar's option for the layer's compression, from its first bytes; ""
 * for a plain tar. NULL (message printed) when it is not a tar. */
static const char *compression(const struct layer *ly, const char *what)
{
	unsigned char b[512];
	ssize_t n = pread(ly->fd, b, sizeof(b), 0);
	static const char zero[8];

	if (n < 0) {
		msg("%s: reading %s: %s", what, ly->path, strerror(errno));
		return NULL;
	}
	if (n >= 2 && b[0] == 0x1f && b[1] == 0x8b)
		return "--gzip";
	if (n >= 4 && !memcmp(b, "\x28\xb5\x2f\xfd", 4)) {
		if (!have_program("zstd")) {
			msg("%s: zstd-compressed, and no zstd program is installed", what);
			return NULL;
		}
		return "--zstd";
	}
	if (n >= 6 && !memcmp(b, "\xfd" "7zXZ\0", 6))
		return "--xz";
	if (n >= 3 && !memcmp(b, "BZh", 3))
		return "--bzip2";
	/* Plain: a ustar/GNU header, or the zero block of an empty archive. */
	if (n == 512 && (!memcmp(b + 257, "ustar", 5) || !memcmp(b, zero, sizeof(zero))))
		return "";
	msg("%s: not a tar archive (neither a tar header nor gzip, zstd, xz or bzip2 data) in %s",
		what, ly->path);
	return NULL;
}

static int list_layer(const struct layer *ly, const char *comp, struct listing *l,
		const char *what)
{
	char *argv[] = { "tar", "-t", "-v", "--numeric-owner", "--quoting-style=c",
		"-f", "-", (char *)comp, NULL };
	char tmpl[] = "/tmp/hypeman-list.XXXXXX", *err = NULL, *line = NULL;
	size_t cap = 0;
	ssize_t len;
	int fd, rc;
	FILE *f;

	if (!comp[0])
		argv[7] = NULL;
	fd = mkostemp(tmpl, O_CLOEXEC);
	if (fd < 0) {
		msg("cannot create a temporary file: %s", strerror(errno));
		return -1;
	}
	unlink(tmpl);
	lseek(ly->fd, 0, SEEK_SET);
	rc = run_cmd(argv, ly->fd, fd, &err);
	if (rc != 0) {
		msg("%s: not a valid tar archive (%s): %s", what, ly->path,
			err && err[0] ? err : "tar failed");
		free(err);
		close(fd);
		return -1;
	}
	free(err);
	lseek(fd, 0, SEEK_SET);
	f = fdopen(fd, "r");
	if (!f) {
		close(fd);
		return -1;
	}
	rc = 0;
	while (rc == 0 && (len = getline(&line, &cap, f)) > 0) {
		if (line[len - 1] == '\n')
			line[--len] = 0;
		if (len)
			rc = list_line(l, line, what);
	}
	free(line);
	fclose(f);
	if (rc == 0 && l->n_dirs)
		qsort(l->dirs, l->n_dirs, sizeof(char *), cmp_str);
	return rc;
}

/* rel resolved inside the tree as in a chroot; an fd for the directory
 * (or -1 with errno). */
static int open_in_root(const struct tree *t, const char *rel)
{
	struct open_how how;
	long fd;

	if (!rel[0])
		return fcntl(t->rootfd, F_DUPFD_CLOEXEC, 0);
	memset(&how, 0, sizeof(how));
	how.flags = O_RDONLY | O_DIRECTORY | O_CLOEXEC;
	how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV;
	fd = syscall(SYS_openat2, t->rootfd, rel, &how, sizeof(how));
	return (int)fd;
}

/* The path of directory fd relative to the root, or NULL. */
static char *rel_of_fd(const struct tree *t, int fd)
{
	char link[64], buf[PATH_MAX];
	ssize_t n;

	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	n = readlink(link, buf, sizeof(buf) - 1);
	if (n <= 0)
		return NULL;
	buf[n] = 0;
	if (strncmp(buf, t->rootpath, t->rootlen))
		return NULL;
	if (buf[t->rootlen] == 0)
		return xstrdup("");
	if (buf[t->rootlen] != '/')
		return NULL;
	return xstrdup(buf + t->rootlen + 1);
}

static int apply_whiteouts(const struct tree *t, const struct listing *l)
{
	size_t i;

	for (i = 0; i < l->n_wh; i++) {
		const struct whiteout *w = &l->wh[i];
		char shown[300];
		int fd, rc = 0;

		if (!strcmp(w->base, WH_OPQ)) {
			/* The opaque directory itself is not followed when it is a
			 * symlink: its target belongs to someone else. */
			char *slash = strrchr(w->parent, '/');
			char *up = slash ? strndup(w->parent, slash - w->parent) : xstrdup("");
			const char *last = slash ? slash + 1 : w->parent;
			int pfd = w->parent[0] ? open_in_root(t, up) : -1;

			if (!w->parent[0])
				fd = fcntl(t->rootfd, F_DUPFD_CLOEXEC, 0);
			else
				fd = pfd < 0 ? -1 : openat(pfd, last,
					O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (pfd >= 0)
				close(pfd);
			free(up);
			if (fd < 0)
				continue;	/* nothing below to hide */
			rc = clear_dir(fd);
		} else if (!strncmp(w->base, WH WH, 2 * strlen(WH))) {
			continue;	/* other aufs metadata (.wh..wh.plnk ...) */
		} else {
			const char *victim = w->base + strlen(WH);

			if (!victim[0] || !strcmp(victim, ".") || !strcmp(victim, ".."))
				continue;
			fd = open_in_root(t, w->parent);
			if (fd < 0)
				continue;	/* no such directory below: nothing to remove */
			rc = remove_at(fd, victim);
		}
		if (rc) {
			int e = errno;

			printable(w->parent, shown, sizeof(shown));
			msg("%s: whiteout %s in /%s: %s", t->what, w->base, shown, strerror(e));
			close(fd);
			return -1;
		}
		close(fd);
	}
	return 0;
}

/* Owner, mode, times (st: taken before the merge emptied src, which
 * changed its mtime) and extended attributes of directory src onto dst. */
static void copy_dir_meta(int src, const struct stat *st, int dst)
{
	struct timespec ts[2];
	char names[65536], value[65536];
	ssize_t n, off;

	n = flistxattr(src, names, sizeof(names));
	for (off = 0; n > 0 && off < n; off += strlen(names + off) + 1) {
		ssize_t vl = fgetxattr(src, names + off, value, sizeof(value));

		if (vl >= 0)
			fsetxattr(dst, names + off, value, vl, 0);
	}
	(void)!fchown(dst, st->st_uid, st->st_gid);
	(void)!fchmod(dst, st->st_mode & 07777);	/* after chown: it clears set-id */
	ts[0] = st->st_atim;
	ts[1] = st->st_mtim;
	futimens(dst, ts);
}

/*
 * Moves the content of staging directory sfd (layer path srel) into tree
 * directory dfd (tree path drel).
 */
static int merge(const struct tree *t, int sfd, const char *srel, int dfd, const char *drel)
{
	int fd = fcntl(sfd, F_DUPFD_CLOEXEC, 0);
	DIR *d = fd < 0 ? NULL : fdopendir(fd);
	struct dirent *e;
	int rc = 0;

	if (!d) {
		if (fd >= 0)
			close(fd);
		msg("%s: reading the staging directory: %s", t->what, strerror(errno));
		return -1;
	}
	while (rc == 0 && (errno = 0, e = readdir(d)) != NULL) {
		const char *name = e->d_name;
		struct stat ss, ds;
		char *csrel, *cdrel = NULL, shown[300];
		bool exists;
		int csfd = -1, cdfd = -1;

		if (!strcmp(name, ".") || !strcmp(name, ".."))
			continue;
		if (fstatat(sfd, name, &ss, AT_SYMLINK_NOFOLLOW)) {
			rc = -1;
			break;
		}
		csrel = join(srel, name);
		exists = fstatat(dfd, name, &ds, AT_SYMLINK_NOFOLLOW) == 0;
		if (S_ISDIR(ss.st_mode) && exists) {
			bool named = named_dir(t->ls, csrel);

			if (S_ISDIR(ds.st_mode)) {
				cdfd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
				cdrel = join(drel, name);
			} else if (S_ISLNK(ds.st_mode) && !named) {
				char *via = join(drel, name);

				cdfd = open_in_root(t, via);
				free(via);
				if (cdfd >= 0 && !(cdrel = rel_of_fd(t, cdfd))) {
					close(cdfd);
					cdfd = -1;
				}
			}
			if (cdfd >= 0) {
				csfd = openat(sfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
				if (csfd < 0) {
					rc = -1;
				} else {
					struct stat before;

					rc = fstat(csfd, &before);
					if (rc == 0)
						rc = merge(t, csfd, csrel, cdfd, cdrel);
					if (rc == 0 && named)
						copy_dir_meta(csfd, &before, cdfd);
					close(csfd);
				}
				close(cdfd);
				free(cdrel);
				free(csrel);
				continue;
			}
			free(cdrel);
		}
		/* Replace: a directory (or anything) where the layer has a file,
		 * or the layer's directory where the tree has none. */
		if (exists && (S_ISDIR(ds.st_mode) || S_ISDIR(ss.st_mode)) && remove_at(dfd, name))
			rc = -1;
		else if (renameat(sfd, name, dfd, name))
			rc = -1;
		if (rc) {
			int err = errno;

			printable(csrel, shown, sizeof(shown));
			msg("%s: placing /%s: %s", t->what, shown, strerror(err));
			free(csrel);
			closedir(d);
			return -1;
		}
		free(csrel);
	}
	if (rc == 0 && errno && !e)
		rc = -1;
	if (rc)
		msg("%s: merging the layer: %s", t->what, strerror(errno));
	closedir(d);
	return rc;
}

static int extract(const struct layer *ly, const char *comp, const char *dest,
		const char *what)
{
	char *argv[] = { "tar", "-x", "--numeric-owner", "--same-owner", "--same-permissions",
		"--xattrs", "--xattrs-include=*", "--xattrs-exclude=trusted.*",
		"--xattrs-exclude=security.selinux", "--warning=no-timestamp",
		"--warning=no-unknown-keyword", "--exclude=.wh.*",
		"-C", (char *)dest, "-f", "-", (char *)comp, NULL };
	char *err = NULL;
	int rc;

	if (!comp[0])
		argv[16] = NULL;
	lseek(ly->fd, 0, SEEK_SET);
	rc = run_cmd(argv, ly->fd, -1, &err);
	if (rc != 0)
		msg("%s: extracting failed: %s", what, err && err[0] ? err : "tar failed");
	free(err);
	return rc == 0 ? 0 : -1;
}

int apply_layers(const struct image *img, const char *root, const char *scratch)
{
	struct tree t;
	size_t i;
	int rc = -1;

	memset(&t, 0, sizeof(t));
	t.rootpath = realpath(root, NULL);
	t.rootfd = t.rootpath ? open(t.rootpath, O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;
	if (t.rootfd < 0) {
		msg("%s: %s", root, strerror(errno));
		free(t.rootpath);
		return -1;
	}
	t.rootlen = strlen(t.rootpath);
	for (i = 0; i < img->n_layers; i++) {
		const struct layer *ly = &img->layers[i];
		struct listing l;
		const char *comp;
		char what[128], sz[32];
		double t0 = now_s();

		memset(&l, 0, sizeof(l));
		snprintf(what, sizeof(what), "layer %zu/%zu (%s)", i + 1, img->n_layers, ly->digest);
		progress("applying layer %zu/%zu (%s)", i + 1, img->n_layers,
			human_size(ly->size, sz));
		t.what = what;
		t.ls = &l;
		if (!(comp = compression(ly, what)) || list_layer(ly, comp, &l, what))
			goto fail;
		if (hm_interrupted)
			goto fail;
		if (i == 0) {
			/* Nothing below: whiteouts have nothing to hide. */
			if (extract(ly, comp, t.rootpath, what))
				goto fail;
		} else {
			char *stage = xasprintf("%s/layer%zu", scratch, i + 1);
			int sfd;

			if (apply_whiteouts(&t, &l)) {
				free(stage);
				goto fail;
			}
			if (mkdir(stage, 0700)) {
				msg("%s: %s", stage, strerror(errno));
				free(stage);
				goto fail;
			}
			if (extract(ly, comp, stage, what)) {
				remove_tree(stage);
				free(stage);
				goto fail;
			}
			sfd = open(stage, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
			rc = sfd < 0 ? -1 : merge(&t, sfd, "", t.rootfd, "");
			if (sfd >= 0)
				close(sfd);
			remove_tree(stage);
			free(stage);
			if (rc)
				goto fail;
			rc = -1;
		}
		progress("applied layer %zu/%zu: %zu entries, %zu whiteouts, %.1f s", i + 1,
			img->n_layers, l.members, l.n_wh, now_s() - t0);
		listing_free(&l);
		continue;
fail:
		listing_free(&l);
		goto out;
	}
	rc = 0;
out:
	close(t.rootfd);
	free(t.rootpath);
	return rc;
}
