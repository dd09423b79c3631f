// needs: hypeman/moddep.c
// fixture: tests/unit/moddep_fixture.sh
/*
 * Unit tests for hypeman/moddep.c: synthetic depmod files, and a module
 * tree with the shape of Debian 6.1's boot set that the fixture script
 * builds and kmod's depmod indexes (run.sh passes its directory in
 * HM_FIXTURE); each plan is compared with what kmod's
 * `modprobe --show-depends` printed for the same name.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "moddep.h"
#include "check.h"

/* the plan as "path[?] path[?] ..." ('?' = optional, when MARKS) */
static char *plan_paths(const struct hm_modplan *p, int marks)
{
	static char buf[8192];
	size_t n = 0;
	int i;

	buf[0] = '\0';
	for (i = 0; i < p->n && n < sizeof(buf) - 512; i++)
		n += snprintf(buf + n, sizeof(buf) - n, "%s%s%s", i ? " " : "",
				p->items[i].path, marks && p->items[i].optional ? "?" : "");
	return buf;
}

static char *plan_str(const struct hm_modplan *p)
{
	return plan_paths(p, 1);
}

static char *list_str(char **v, int n)
{
	static char buf[1024];
	size_t l = 0;
	int i;

	buf[0] = '\0';
	for (i = 0; i < n && l < sizeof(buf) - 128; i++)
		l += snprintf(buf + l, sizeof(buf) - l, "%s%s", i ? " " : "", v[i]);
	return buf;
}

static const char DEP[] =
	"# comment\n"
	"kernel/a.ko: kernel/b.ko kernel/c.ko\n"
	"kernel/b.ko: kernel/c.ko\n"
	"\n"
	"kernel/c.ko:\n"
	"kernel/d-x.ko:\r\n"
	"kernel/crypto/foo_intel.ko:\n"
	"kernel/crypto/foo-generic.ko: kernel/lib/foolib.ko\n"
	"kernel/lib/foolib.ko:\n"
	"kernel/e.ko: kernel/nofile.ko\n"
	"kernel/post.ko: kernel/c.ko\n"
	"kernel/x.ko:\n"
	"kernel/y.ko:\n"
	"kernel/z.ko.xz: kernel/c.ko\n"
	"kernel/single.ko:\n"
	"kernel/jbd.ko: kernel/c.ko\n"
	"kernel/fs.ko: kernel/jbd.ko kernel/c.ko\n";
static const char SOFT[] =
	"# Soft dependencies extracted from modules themselves.\n"
	"softdep a pre: crypto-foo post: post\n"
	"softdep b nopre\n"
	"softdep x pre: y\n"
	"softdep y pre: x\n"
	"softdep jbd pre: crypto-foo\n"
	"softdep e pre: bi-alias unknown-thing\n";
static const char ALIAS[] =
	"alias crypto-foo foo_intel\n"
	"alias crypto_foo foo-generic\n"
	"alias pci:v00001AF4d*sv*sd*bc*sc*i* c\n"
	"alias bi-alias builtin_one\n"
	"alias just-one single\n"
	"alias nopre x\n";
static const char BUILTIN[] =
	"kernel/drivers/builtin-one.ko\n"
	"kernel/fs/bi2.ko\n";

static int build(struct hm_modplan *p, const char *want)
{
	char buf[512];
	char **names;
	int n, r;

	snprintf(buf, sizeof(buf), "%s", want);
	n = hm_modlist_parse(buf, &names);
	if (n < 0)
		return -1;
	r = hm_modplan_build(DEP, SOFT, ALIAS, BUILTIN, names, n, p);
	free(names);
	return r;
}

#define PLAN(want, expect) do { \
	struct hm_modplan p_; \
	CHECK_INT(build(&p_, want), 0); \
	CHECK_STR(plan_str(&p_), expect); \
	hm_modplan_free(&p_); \
} while (0)

static void test_synthetic(void)
{
	struct hm_modplan p;
	int i;

	/* deps: listed last loads first */
	PLAN("c", "kernel/c.ko");
	PLAN("c\nb", "kernel/c.ko kernel/y.ko? kernel/x.ko? kernel/b.ko");
	/* a line without pre:/post: is pre:, names may be aliases */
	PLAN("b", "kernel/y.ko? kernel/x.ko? kernel/c.ko kernel/b.ko");
	/* pre softdep via an alias with two modules (optional, and their own
	 * deps), then deps (with their own softdeps), the module, the post
	 * softdep */
	PLAN("a", "kernel/crypto/foo_intel.ko? kernel/lib/foolib.ko? "
		"kernel/crypto/foo-generic.ko? kernel/c.ko "
		"kernel/y.ko? kernel/x.ko? kernel/b.ko kernel/a.ko kernel/post.ko?");
	/* once each, first place; requested later makes it required */
	PLAN("b\nc\nb\n", "kernel/y.ko? kernel/x.ko? kernel/c.ko kernel/b.ko");
	PLAN("a\nfoo_intel\npost", "kernel/crypto/foo_intel.ko kernel/lib/foolib.ko? "
		"kernel/crypto/foo-generic.ko? kernel/c.ko "
		"kernel/y.ko? kernel/x.ko? kernel/b.ko kernel/a.ko kernel/post.ko");
	/* '-' and '_' are one; .ko.xz */
	PLAN("d_x", "kernel/d-x.ko");
	PLAN("d-x  # comment\n", "kernel/d-x.ko");
	PLAN("foo_generic", "kernel/lib/foolib.ko kernel/crypto/foo-generic.ko");
	PLAN("z", "kernel/c.ko kernel/z.ko.xz");
	/* softdep loops end */
	PLAN("x", "kernel/y.ko? kernel/x.ko");
	PLAN("y\nx", "kernel/x.ko kernel/y.ko");
	/* softdep of a dependency, as modprobe does (ext4 -> jbd2 -> crc32c) */
	PLAN("fs", "kernel/c.ko kernel/crypto/foo_intel.ko? kernel/lib/foolib.ko? "
		"kernel/crypto/foo-generic.ko? kernel/jbd.ko kernel/fs.ko");
	/* aliases: one module is required, several optional */
	PLAN("just-one", "kernel/single.ko");
	PLAN("crypto_foo", "kernel/crypto/foo_intel.ko? kernel/lib/foolib.ko? "
		"kernel/crypto/foo-generic.ko?");
	/* only exact aliases */
	PLAN("pci:v00001AF4d00001000sv00001AF4sd00000001bc01sc00i00", "");

	/* dep without a line of its own; softdep to builtin via alias;
	 * unknown softdep ignored */
	CHECK_INT(build(&p, "e"), 0);
	CHECK_STR(plan_str(&p), "kernel/nofile.ko kernel/e.ko");
	CHECK_STR(list_str(p.builtin, p.n_builtin), "builtin_one");
	CHECK_INT(p.n_missing, 0);
	CHECK_STR(p.items[0].name, "nofile");
	CHECK_STR(p.items[1].name, "e");
	hm_modplan_free(&p);

	/* builtin and missing requests */
	CHECK_INT(build(&p, "bi2\nnothere\nbuiltin-one\nc\nno-such\nbuiltin_one"), 0);
	CHECK_STR(plan_str(&p), "kernel/c.ko");
	CHECK_STR(list_str(p.builtin, p.n_builtin), "bi2 builtin_one");
	CHECK_STR(list_str(p.missing, p.n_missing), "nothere no-such");
	hm_modplan_free(&p);

	/* names are normalised */
	CHECK_INT(build(&p, "crypto-foo\nd-x"), 0);
	CHECK_INT(p.n, 4);
	if (p.n == 4) {
		CHECK_STR(p.items[0].name, "foo_intel");
		CHECK_STR(p.items[2].name, "foo_generic");
		CHECK_STR(p.items[3].name, "d_x");
		CHECK(!p.items[3].optional);
	}
	hm_modplan_free(&p);

	/* no files at all: everything missing, no crash */
	{
		char *w[] = { (char *)"virtio_net", NULL, (char *)"", (char *)"ext4" };

		CHECK_INT(hm_modplan_build(NULL, NULL, NULL, NULL, w, 4, &p), 0);
		CHECK_INT(p.n, 0);
		CHECK_STR(list_str(p.missing, p.n_missing), "virtio_net ext4");
		hm_modplan_free(&p);
		CHECK_INT(hm_modplan_build("", "", "", "", w, 0, &p), 0);
		CHECK_INT(p.n + p.n_missing + p.n_builtin, 0);
		hm_modplan_free(&p);
		hm_modplan_free(&p);	/* twice is fine */
	}

	/* junk lines are skipped */
	{
		char *w[] = { (char *)"ok" };

		CHECK_INT(hm_modplan_build("garbage\n: x.ko\nok.ko:\n",
			"softdep\nsoftdep ok\nnot-softdep ok pre: x\n",
			"alias\nalias only-name\n", "\n\n", w, 1, &p), 0);
		CHECK_STR(plan_str(&p), "ok.ko");
		hm_modplan_free(&p);
	}

	/* an absurd softdep chain fails cleanly instead of eating the stack */
	{
		size_t sz = 400 * 64;
		char *dep = malloc(sz), *soft = malloc(sz);
		char *w[] = { (char *)"m0" };
		size_t dn = 0, sn = 0;

		if (!dep || !soft) {
			CHECK(0);
			return;
		}
		for (i = 0; i < 400; i++) {
			dn += snprintf(dep + dn, sz - dn, "m%d.ko:\n", i);
			sn += snprintf(soft + sn, sz - sn, "softdep m%d pre: m%d\n", i, i + 1);
		}
		errno = 0;
		CHECK_INT(hm_modplan_build(dep, soft, NULL, NULL, w, 1, &p), -1);
		CHECK_INT(errno, ELOOP);
		CHECK_INT(p.n + p.n_missing + p.n_builtin, 0);
		CHECK(p.items == NULL);
		hm_modplan_free(&p);
		/* 200 deep is fine */
		w[0] = (char *)"m200";
		CHECK_INT(hm_modplan_build(dep, soft, NULL, NULL, w, 1, &p), 0);
		CHECK_INT(p.n, 200);
		if (p.n == 200) {
			CHECK_STR(p.items[0].path, "m399.ko");
			CHECK_STR(p.items[199].path, "m200.ko");
		}
		hm_modplan_free(&p);
		free(dep);
		free(soft);
	}
}

static void test_modlist(void)
{
	char text[] = "# boot modules\nvirtio_pci\n  virtio_blk  \n\n#x\next4 # fs\n\t\noverlay";
	char empty[] = "\n# nothing\n";
	char **v;
	int n;

	n = hm_modlist_parse(text, &v);
	CHECK_INT(n, 4);
	if (n == 4) {
		CHECK_STR(v[0], "virtio_pci");
		CHECK_STR(v[1], "virtio_blk");
		CHECK_STR(v[2], "ext4");
		CHECK_STR(v[3], "overlay");
	}
	free(v);
	n = hm_modlist_parse(empty, &v);
	CHECK_INT(n, 0);
	free(v);
}

/* What a module is for, from modules.alias: device patterns, fs- aliases. */
static void test_alias_kinds(void)
{
	static const char alias[] =
		"# Aliases extracted from modules themselves.\n"
		"alias crypto-crc32c crc32c_intel\n"
		"alias cpu:type:x86,ven*fam*mod*:feature:*0094* crc32c_intel\n"
		"alias fs-ext4 ext4\n"
		"alias ext3 ext4\n"
		"alias fs-ext3 ext4\n"
		"alias fs-overlay overlay\n"
		"alias pci:v00001AF4d*sv*sd*bc*sc*i* virtio_pci\n"
		"alias virtio:d00000002v* virtio_blk\n"
		"alias virtio:d00000001v* virtio_net\n"
		"alias of:N*T*Cvirtio,mmio virtio-mmio\n"
		"alias of:N*T*Cvirtio,mmioC* virtio-mmio\n"
		"alias acpi*:LNRO0005:* virtio-mmio\n"
		"alias devname:vsock vsock\n"
		"alias net-pf-40 vsock\n"
		"alias\tvirtio:d00000013v*\tvmw_vsock_virtio_transport\r\n"
		"alias broken\n";
	char *devs[] = {
		(char *)"pci:v00008086d000029C0sv00001AF4sd00001100bc06sc00i00",
		(char *)"pci:v00001AF4d00001001sv00001AF4sd00000002bc01sc00i00",
		(char *)"virtio:d00000002v00001AF4",
		(char *)"virtio:d00000013v00001AF4",
	};
	struct hm_moddb *db = hm_moddb_new(NULL, NULL, alias, NULL);
	struct hm_moddb *none = hm_moddb_new(NULL, NULL, NULL, NULL);
	char *buses[4] = { NULL };
	int n = 0, i;

	CHECK(db != NULL && none != NULL);
	if (!db || !none)
		return;
	CHECK_INT(hm_module_kind(db, "virtio_pci"), HM_MOD_DRIVER);
	CHECK_INT(hm_module_kind(db, "virtio-blk"), HM_MOD_DRIVER);
	CHECK_INT(hm_module_kind(db, "crc32c-intel"), HM_MOD_DRIVER);
	CHECK_INT(hm_module_kind(db, "vmw_vsock_virtio_transport"), HM_MOD_DRIVER);
	CHECK_INT(hm_module_kind(db, "ext4"), HM_MOD_FS);
	CHECK_INT(hm_module_kind(db, "overlay"), HM_MOD_FS);
	/* devname: is a /dev node, not a device; net-pf- a protocol */
	CHECK_INT(hm_module_kind(db, "vsock"), HM_MOD_OTHER);
	CHECK_INT(hm_module_kind(db, "nothere"), HM_MOD_OTHER);
	CHECK_INT(hm_module_kind(none, "ext4"), HM_MOD_OTHER);

	/* fnmatch patterns against the devices present */
	CHECK(hm_module_matches(db, "virtio_pci", devs, 4));
	CHECK(!hm_module_matches(db, "virtio_pci", devs, 1));
	CHECK(hm_module_matches(db, "virtio_blk", devs, 4));
	CHECK(!hm_module_matches(db, "virtio_net", devs, 4));
	CHECK(hm_module_matches(db, "vmw-vsock-virtio-transport", devs, 4));
	CHECK(!hm_module_matches(db, "vmw_vsock_virtio_transport", devs, 3));
	CHECK(!hm_module_matches(db, "ext4", devs, 4));
	CHECK(!hm_module_matches(db, "virtio_blk", devs, 0));
	{
		char *dt[] = { (char *)"of:NvirtioT(null)Cvirtio,mmio" };
		char *acpi[] = { (char *)"acpi:LNRO0005:" };

		CHECK(hm_module_matches(db, "virtio_mmio", dt, 1));
		CHECK(hm_module_matches(db, "virtio_mmio", acpi, 1));
	}

	CHECK(hm_module_serves_fs(db, "ext4", "ext4"));
	CHECK(hm_module_serves_fs(db, "ext4", "ext3"));
	CHECK(!hm_module_serves_fs(db, "ext4", "erofs"));
	CHECK(!hm_module_serves_fs(db, "overlay", "ext4"));
	CHECK(hm_module_serves_fs(db, "overlay", "overlay"));

	/* the buses each driver's patterns name, each once */
	CHECK_INT(hm_module_buses(db, "virtio_pci", buses, 4, &n), 0);
	CHECK_INT(hm_module_buses(db, "virtio_blk", buses, 4, &n), 0);
	CHECK_INT(hm_module_buses(db, "virtio_net", buses, 4, &n), 0);
	CHECK_INT(hm_module_buses(db, "ext4", buses, 4, &n), 0);
	CHECK_INT(hm_module_buses(db, "vsock", buses, 4, &n), 0);
	CHECK_INT(n, 2);
	CHECK_STR(list_str(buses, n), "pci virtio");
	/* a third and fourth kind fill BUSES; a fifth does not fit */
	CHECK_INT(hm_module_buses(db, "virtio_mmio", buses, 4, &n), 0);
	CHECK_INT(hm_module_buses(db, "crc32c_intel", buses, 4, &n), 0);
	CHECK_INT(n, 4);
	CHECK_STR(list_str(buses, n), "pci virtio of acpi");
	for (i = 0; i < n; i++)
		free(buses[i]);
	hm_moddb_free(db);
	hm_moddb_free(none);
}

/* One parsed set of files, several plans: the same as one-shot plans. */
static void test_db(void)
{
	struct hm_moddb *db = hm_moddb_new(DEP, SOFT, ALIAS, BUILTIN);
	struct hm_modplan p;
	int i;
	char *a[] = { (char *)"a" }, *fs[] = { (char *)"fs", (char *)"bi2" };

	if (!CHECKF(db != NULL, "hm_moddb_new failed"))
		return;
	CHECK_INT(hm_moddb_plan(db, a, 1, &p), 0);
	CHECK_STR(plan_str(&p), "kernel/crypto/foo_intel.ko? kernel/lib/foolib.ko? "
		"kernel/crypto/foo-generic.ko? kernel/c.ko "
		"kernel/y.ko? kernel/x.ko? kernel/b.ko kernel/a.ko kernel/post.ko?");
	/* crypto-foo's two modules are alternatives, their deps are not */
	if (CHECKF(p.n == 9, "%d items", p.n)) {
		CHECK(p.items[0].alt > 0);
		CHECK_INT(p.items[2].alt, p.items[0].alt);
		CHECK_INT(p.items[1].alt, 0);
		for (i = 3; i < 9; i++)
			CHECK_INT(p.items[i].alt, 0);
	}
	hm_modplan_free(&p);
	/* requested by name, an alternative is required, not one of a group */
	{
		char *w[] = { (char *)"foo_intel", (char *)"crypto-foo" };

		CHECK_INT(hm_moddb_plan(db, w, 2, &p), 0);
		CHECK_STR(plan_str(&p), "kernel/crypto/foo_intel.ko kernel/lib/foolib.ko? "
			"kernel/crypto/foo-generic.ko?");
		CHECK_INT(p.items[0].alt, 0);
		CHECK(p.items[2].alt > 0);
		hm_modplan_free(&p);
	}
	/* the second plan starts afresh: what the first planned comes again */
	CHECK_INT(hm_moddb_plan(db, fs, 2, &p), 0);
	CHECK_STR(plan_str(&p), "kernel/c.ko kernel/crypto/foo_intel.ko? kernel/lib/foolib.ko? "
		"kernel/crypto/foo-generic.ko? kernel/jbd.ko kernel/fs.ko");
	CHECK_STR(list_str(p.builtin, p.n_builtin), "bi2");
	hm_modplan_free(&p);
	hm_moddb_free(db);
	hm_moddb_free(NULL);
	db = hm_moddb_new(NULL, NULL, NULL, NULL);
	if (CHECKF(db != NULL, "hm_moddb_new of nothing failed")) {
		CHECK_INT(hm_moddb_plan(db, a, 1, &p), 0);
		CHECK_STR(list_str(p.missing, p.n_missing), "a");
		hm_modplan_free(&p);
		hm_moddb_free(db);
	}
}

static char *slurp(const char *dir, const char *name)
{
	char path[1024];
	FILE *f;
	char *buf;
	long len;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "r");
	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	len = ftell(f);
	rewind(f);
	buf = malloc(len + 1);
	if (buf && fread(buf, 1, len, f) != (size_t)len) {
		free(buf);
		buf = NULL;
	}
	if (buf)
		buf[len] = '\0';
	fclose(f);
	return buf;
}

/* What kmod planned for the names so far: files, each once, at its first
 * place (as moddep plans them); builtins; names it found nowhere. */
struct kmod_plan {
	char files[4096], builtin[256], missing[256];
};

static void add_word(char *list, size_t cap, const char *w, size_t len)
{
	char one[512];
	size_t n = strlen(list);

	snprintf(one, sizeof(one), " %.*s ", (int)len, w);
	if (strstr(list, one + 1) == list || strstr(list, one))
		return;  /* already there */
	snprintf(list + n, cap - n, "%s%.*s", n ? " " : "", (int)len, w);
}

/* Adds kmod's `modprobe --show-depends NAME` output (SHOW) to K:
 * "insmod /…/lib/modules/<rel>/PATH " and "builtin NAME" lines. */
static void kmod_add(struct kmod_plan *k, const char *name, const char *show, const char *rel)
{
	char marker[128];
	const char *line, *p, *end;
	int found = 0;

	snprintf(marker, sizeof(marker), "/lib/modules/%s/", rel);
	for (line = show; *line; line = *end ? end + 1 : end) {
		end = strchrnul(line, '\n');
		if (strncmp(line, "builtin ", 8) == 0) {
			add_word(k->builtin, sizeof(k->builtin), line + 8, end - line - 8);
			found = 1;
		} else if (strncmp(line, "insmod ", 7) == 0 && (p = strstr(line, marker)) && p < end) {
			p += strlen(marker);
			add_word(k->files, sizeof(k->files), p, strcspn(p, " \n"));
			found = 1;
		}
	}
	if (!found)
		add_word(k->missing, sizeof(k->missing), name, strlen(name));
}

/* every modules.dep dependency of each item is planned before it */
static int deps_first(const struct hm_modplan *p, const char *dep)
{
	char key[512];
	const char *line, *s, *e;
	int i, j, found;

	for (i = 0; i < p->n; i++) {
		snprintf(key, sizeof(key), "\n%s:", p->items[i].path);
		line = strstr(dep, key);
		if (!line)
			return 0;
		s = line + strlen(key);
		for (;;) {
			char one[512];

			s += strspn(s, " ");
			if (*s == '\n' || !*s)
				break;
			e = s + strcspn(s, " \n");
			snprintf(one, sizeof(one), "%.*s", (int)(e - s), s);
			for (found = 0, j = 0; j < i; j++)
				found |= strcmp(p->items[j].path, one) == 0;
			if (!found) {
				printf("%s needs %s first\n", p->items[i].path, one);
				return 0;
			}
			s = e;
		}
	}
	return 1;
}

/* The plan of NAMES (N of them), compared with kmod's for the same. */
static void check_against_kmod(int line, const char *dir, const char *rel, const char *idx,
		char *const *names, int n)
{
	char *dep = slurp(idx, "modules.dep"), *soft = slurp(idx, "modules.softdep");
	char *alias = slurp(idx, "modules.alias"), *builtin = slurp(idx, "modules.builtin");
	char *dep_nl = malloc(dep ? strlen(dep) + 2 : 1), path[1024], *show;
	struct kmod_plan k = { "", "", "" };
	struct hm_modplan p;
	int i, optional_ok = 1;

	for (i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "show/%s", names[i]);
		show = slurp(dir, path);
		check_at(__FILE__, line, show != NULL, "no kmod output %s/%s", dir, path);
		kmod_add(&k, names[i], show ? show : "", rel);
		free(show);
	}
	if (check_at(__FILE__, line, dep && soft && alias && builtin && dep_nl,
			"no modules.{dep,softdep,alias,builtin} in %s", idx)
	 && check_at(__FILE__, line, hm_modplan_build(dep, soft, alias, builtin, names, n, &p) == 0,
			"hm_modplan_build failed")) {
		check_str_at(__FILE__, line, plan_paths(&p, 0), k.files, names[0]);
		check_str_at(__FILE__, line, list_str(p.builtin, p.n_builtin), k.builtin, "builtin");
		check_str_at(__FILE__, line, list_str(p.missing, p.n_missing), k.missing, "missing");
		sprintf(dep_nl, "\n%s", dep);
		check_at(__FILE__, line, deps_first(&p, dep_nl), "%s: dependencies after their user", names[0]);
		/* only the crc32c implementations come from a softdep or an
		 * alias with two modules: only they may fail to load */
		for (i = 0; i < p.n; i++)
			optional_ok &= p.items[i].optional == (strstr(p.items[i].path, "crc32c") != NULL
				&& strstr(p.items[i].path, "libcrc32c") == NULL);
		check_at(__FILE__, line, optional_ok, "optional flags: %s", plan_str(&p));
		hm_modplan_free(&p);
	}
	free(dep_nl);
	free(dep);
	free(soft);
	free(alias);
	free(builtin);
}

static void test_kmod(void)
{
	const char *dir = getenv("HM_FIXTURE");
	char idx[1024], rel[64] = "", *text, **names = NULL;
	int n = 0, i;

	if (!CHECKF(dir != NULL, "HM_FIXTURE is not set: run me through tests/unit/run.sh"))
		return;
	text = slurp(dir, "release");
	if (text)
		sscanf(text, "%63s", rel);
	free(text);
	snprintf(idx, sizeof(idx), "%s/lib/modules/%s", dir, rel);
	text = slurp(dir, "names");
	if (!CHECKF(text != NULL, "no %s/names", dir))
		return;
	n = hm_modlist_parse(text, &names);
	/* each name alone, then all at once (the boot: each file once) */
	for (i = 0; i < n; i++)
		check_against_kmod(__LINE__, dir, rel, idx, &names[i], 1);
	check_against_kmod(__LINE__, dir, rel, idx, names, n);
	CHECK_INT(n, 11);
	free(names);
	free(text);
}

/* A module's options from the kernel command line, as modprobe passes
 * them (Firecracker's line: virtio_mmio.device= and the rest). */
static void test_cmdline_options(void)
{
	static const struct { const char *cmdline, *name, *want; } cases[] = {
		{ "console=ttyS0 reboot=k panic=1 pci=off nomodule 8250.nr_uarts=0 "
		  "i8042.noaux virtio_mmio.device=4K@0xd0000000:5 root=/dev/vda ro "
		  "virtio_mmio.device=4K@0xd0001000:6", "virtio_mmio",
		  "device=4K@0xd0000000:5 device=4K@0xd0001000:6" },
		/* '-' and '_' are one character in module names */
		{ "virtio-mmio.device=512@0xfeb00000:12", "virtio_mmio", "device=512@0xfeb00000:12" },
		{ "virtio_mmio.device=512@0xfeb00000:12", "virtio-mmio", "device=512@0xfeb00000:12" },
		/* a bool parameter without a value; quotes as the kernel reads them */
		{ "ext4.x foo.bar=1 \"overlay.redirect_dir=on\" overlay.index", "overlay",
		  "\"redirect_dir=on\" index" },
		{ "  virtio_blk.name=\"a b\"\t", "virtio_blk", "name=\"a b\"" },
		{ "\"virtio_blk.name=a b\" virtio_blk.queue_depth=64\n", "virtio_blk",
		  "\"name=a b\" queue_depth=64" },
		/* not this module's: a prefix, a dot only in the value, nothing after the dot */
		{ "virtio_mmiox.device=1 virtio.x=1 root=virtio_mmio.device virtio_mmio. "
		  "virtio_mmio virtio_mmio=1", "virtio_mmio", "" },
		{ "", "ext4", "" },
		{ "ro rw root=/dev/vda init=/sbin/init tsc_early_khz=2000000", "ext4", "" },
		/* an unterminated quote runs to the end, as in the kernel */
		{ "virtio_blk.name=\"a b", "virtio_blk", "name=\"a b" },
		{ "virtio_blk.name=\"a b\" \"virtio_blk", "virtio_blk", "name=\"a b\"" },
	};
	unsigned i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *got = hm_module_cmdline_options(cases[i].cmdline, cases[i].name);

		if (CHECK(got != NULL))
			CHECK_STR(got, cases[i].want);
		free(got);
	}
}

int main(void)
{
	CHECK_CASE(test_synthetic());
	CHECK_CASE(test_modlist());
	CHECK_CASE(test_alias_kinds());
	CHECK_CASE(test_db());
	CHECK_CASE(test_kmod());
	CHECK_CASE(test_cmdline_options());
	return check_done();
}
