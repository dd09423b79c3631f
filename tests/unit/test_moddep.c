// needs: hypeman/moddep.c
/* Unit tests for hypeman/moddep.c: synthetic depmod files, and the real
 * depmod output of the Debian 6.1 kernel when it is unpacked (HM_KMODS, or
 * /tmp/{kx,kmods}/lib/modules/6.1.0-56-amd64; skipped otherwise), compared with
 * what `modprobe --show-depends` prints for the boot set. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "moddep.h"
#include "check.h"

/* the plan as "path[?] path[?] ..." ('?' = optional), or "ERR" */
static char *plan_str(const struct hm_modplan *p)
{
	static char buf[8192];
	size_t n = 0;
	int i;

	buf[0] = '\0';
	for (i = 0; i < p->n && n < sizeof(buf) - 512; i++)
		n += snprintf(buf + n, sizeof(buf) - n, "%s%s%s", i ? " " : "",
				p->items[i].path, p->items[i].optional ? "?" : "");
	return buf;
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

/* `modprobe -d /tmp/kx -S 6.1.0-56-amd64 --show-depends NAME`, kmod 30 */
static const struct {
	const char *name, *files;
} modprobe[] = {
	{ "virtio_pci", "kernel/drivers/virtio/virtio_ring.ko kernel/drivers/virtio/virtio.ko "
		"kernel/drivers/virtio/virtio_pci_modern_dev.ko kernel/drivers/virtio/virtio_pci_legacy_dev.ko "
		"kernel/drivers/virtio/virtio_pci.ko" },
	{ "virtio_blk", "kernel/drivers/virtio/virtio_ring.ko kernel/drivers/virtio/virtio.ko "
		"kernel/drivers/block/virtio_blk.ko" },
	{ "virtio_net", "kernel/drivers/virtio/virtio_ring.ko kernel/drivers/virtio/virtio.ko "
		"kernel/net/core/failover.ko kernel/drivers/net/net_failover.ko kernel/drivers/net/virtio_net.ko" },
	{ "virtio_console", "kernel/drivers/virtio/virtio_ring.ko kernel/drivers/virtio/virtio.ko "
		"kernel/drivers/char/virtio_console.ko" },
	{ "ext4", "kernel/arch/x86/crypto/crc32c-intel.ko? kernel/crypto/crc32c_generic.ko? "
		"kernel/fs/jbd2/jbd2.ko kernel/fs/mbcache.ko kernel/lib/crc16.ko kernel/fs/ext4/ext4.ko" },
	{ "erofs", "kernel/arch/x86/crypto/crc32c-intel.ko? kernel/crypto/crc32c_generic.ko? "
		"kernel/lib/libcrc32c.ko kernel/fs/erofs/erofs.ko" },
	{ "overlay", "kernel/fs/overlayfs/overlay.ko" },
	{ "vmw_vsock_virtio_transport", "kernel/drivers/virtio/virtio_ring.ko kernel/drivers/virtio/virtio.ko "
		"kernel/net/vmw_vsock/vsock.ko kernel/net/vmw_vsock/vmw_vsock_virtio_transport_common.ko "
		"kernel/net/vmw_vsock/vmw_vsock_virtio_transport.ko" },
};

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

static void test_real(void)
{
	static const char *const dirs[] = {
		"/tmp/kx/lib/modules/6.1.0-56-amd64",
		"/tmp/kmods/lib/modules/6.1.0-56-amd64",
	};
	const char *dir = getenv("HM_KMODS");
	char *dep, *soft, *alias, *builtin, *dep_nl;
	struct hm_modplan p;
	char *w[16];
	unsigned i;
	int n = 0;

	for (i = 0; !dir && i < sizeof(dirs) / sizeof(dirs[0]); i++)
		if (access(dirs[i], F_OK) == 0)
			dir = dirs[i];
	if (!dir)
		dir = dirs[0];
	dep = slurp(dir, "modules.dep");
	soft = slurp(dir, "modules.softdep");
	alias = slurp(dir, "modules.alias");
	builtin = slurp(dir, "modules.builtin");
	if (!dep || !soft || !alias || !builtin) {
		printf("SKIP real depmod output: no %s/modules.{dep,softdep,alias,builtin}\n", dir);
		goto out;
	}
	dep_nl = malloc(strlen(dep) + 2);
	if (!dep_nl)
		goto out;
	dep_nl[0] = '\n';
	strcpy(dep_nl + 1, dep);
	for (i = 0; i < sizeof(modprobe) / sizeof(modprobe[0]); i++) {
		w[0] = (char *)modprobe[i].name;
		CHECK_INT(hm_modplan_build(dep, soft, alias, builtin, w, 1, &p), 0);
		CHECK_STR(plan_str(&p), modprobe[i].files);
		CHECK_INT(p.n_missing + p.n_builtin, 0);
		CHECKF(deps_first(&p, dep_nl), "%s: order", modprobe[i].name);
		hm_modplan_free(&p);
	}
	/* the boot set at once: each file once, deps first */
	for (i = 0; i < sizeof(modprobe) / sizeof(modprobe[0]); i++)
		w[n++] = (char *)modprobe[i].name;
	w[n++] = (char *)"crc32c";	/* an alias with two modules */
	w[n++] = (char *)"vfat-nonexistent";
	w[n++] = (char *)"unix";	/* builtin in Debian's kernel */
	CHECK_INT(hm_modplan_build(dep, soft, alias, builtin, w, n, &p), 0);
	CHECK_INT(p.n, 22);
	CHECKF(deps_first(&p, dep_nl), "boot set order");
	CHECK_STR(list_str(p.missing, p.n_missing), "vfat-nonexistent");
	CHECK_STR(list_str(p.builtin, p.n_builtin), "unix");
	hm_modplan_free(&p);
	free(dep_nl);
 out:
	free(dep);
	free(soft);
	free(alias);
	free(builtin);
}

int main(void)
{
	test_synthetic();
	test_modlist();
	test_real();
	return check_done();
}
