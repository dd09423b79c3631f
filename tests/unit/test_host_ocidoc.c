// needs: host/ocidoc.c host/util.c host/tool.c contract/json.c contract/rmtree.c contract/fdio.c contract/logline.c
/*
 * Unit tests for host/ocidoc.c, hypeman run's reading of an OCI layout's
 * documents: the manifest index.json names for a tag and a platform, an
 * image index's choice, a manifest's config and layers, an image config.
 */
#include <stdlib.h>
#include <string.h>
#include "check.h"
#include "ocidoc.h"

#define D(ref, plat) "{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\"," \
	"\"digest\":\"sha256:" ref "\",\"size\":7" plat \
	",\"annotations\":{\"org.opencontainers.image.ref.name\":\"" ref "\"}}"
#define PLAT(os, arch) ",\"platform\":{\"os\":\"" os "\",\"architecture\":\"" arch "\"}"

/* TEXT as index.json (TOP) or an image index: the digest chosen, or
 * NULL; the chooser's lists in NAMES and PLATFORMS. */
static char *choose(const char *text, int top, const char *tag, const char *arch,
		char *names, char *platforms)
{
	struct hr_ocidoc_chooser c = { .top = top, .tag = tag, .arch = arch };
	struct hr_ocidoc d = { 0 };
	char err[160], *digest = NULL;

	if (!CHECKF(hr_ocidoc_parse(text, &d, &c, err, sizeof(err)) == 0, "%s: %s", text, err))
		return NULL;
	hr_ocidoc_take_only(&c);
	if (c.best_rank > 0 && (!c.top || c.n_tagged))
		digest = strdup(c.best.digest);
	strcpy(names, c.names);
	strcpy(platforms, c.platforms);
	hr_ocidoc_desc_free(&c.best);
	hr_ocidoc_desc_free(&c.first);
	hr_ocidoc_free(&d);
	return digest;
}

static void check_choice(int line, const char *text, int top, const char *tag, const char *want)
{
	char names[HR_OCIDOC_LIST_MAX], plats[HR_OCIDOC_LIST_MAX];
	char *got = choose(text, top, tag, "amd64", names, plats);

	check_str_at(__FILE__, line, got, want, text);
	free(got);
}
#define CHOICE(text, top, tag, want) check_choice(__LINE__, text, top, tag, want)

static void test_index(void)
{
	char names[HR_OCIDOC_LIST_MAX], plats[HR_OCIDOC_LIST_MAX];
	char *got;

	/* the only manifest, untagged request: it, whatever its name */
	CHOICE("{\"manifests\":[" D("a", "") "]}", 1, NULL, "sha256:a");
	/* tags: the whole name or the part after the last ':' */
	CHOICE("{\"manifests\":[" D("a", "") "," D("latest", "") "]}", 1, NULL, "sha256:latest");
	CHOICE("{\"manifests\":[" D("docker.io/x:1.0", "") "," D("b", "") "]}", 1, "1.0",
		"sha256:docker.io/x:1.0");
	CHOICE("{\"manifests\":[" D("a", "") "," D("b", "") "]}", 1, "c", NULL);
	/* the target's platform wins over none, none over another */
	CHOICE("{\"manifests\":[" D("v", PLAT("linux", "arm64")) "," D("v", "") "," D("v",
		PLAT("linux", "amd64")) "]}", 1, "v", "sha256:v");
	got = choose("{\"manifests\":[" D("x", PLAT("linux", "arm64")) "," D("y",
		PLAT("windows", "amd64")) "]}", 0, NULL, "amd64", names, plats);
	CHECK(got == NULL);
	CHECK_STR(plats, "linux/arm64, windows/amd64");
	got = choose("{\"manifests\":[" D("x", PLAT("linux", "arm64")) "," D("y", "") "]}", 0,
		NULL, "arm64", names, plats);
	CHECK_STR(got, "sha256:x");
	free(got);
	choose("{\"manifests\":[" D("a", "") "," D("b", "") "," D("a", "") "]}", 1, "z", "amd64",
		names, plats);
	CHECK_STR(names, "a, b");
	/* a name that is "": listed, and the list not read past its end
	 * (fuzz_oci_json found that read) */
	choose("{\"manifests\":[" D("a", "") ",{\"mediaType\":\"application/vnd.oci.image."
		"manifest.v1+json\",\"digest\":\"sha256:e\",\"size\":7,\"annotations\":"
		"{\"org.opencontainers.image.ref.name\":\"\"}}]}", 1, "z", "amd64", names, plats);
	CHECK_STR(names, "a, ");
}

/* docker save (Docker 25 on): each manifest named by its full reference
 * (containerd's annotation) and its tag alone. */
#define DS(name, tag, dig) "{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\"," \
	"\"digest\":\"sha256:" dig "\",\"size\":7,\"annotations\":{" \
	"\"io.containerd.image.name\":\"" name "\"," \
	"\"org.opencontainers.image.ref.name\":\"" tag "\"}}"
#define SAVED "{\"manifests\":[" DS("docker.io/library/aa:latest", "latest", "a") "," \
	DS("docker.io/library/bb:latest", "latest", "b") "," DS("ghcr.io/o/cc:2", "2", "c") "]}"

/* How many other manifests answer to TAG as well as the chosen one. */
static size_t ties(const char *text, const char *tag)
{
	struct hr_ocidoc_chooser c = { .top = 1, .tag = tag, .arch = "amd64" };
	struct hr_ocidoc d = { 0 };
	char err[160];

	CHECK(hr_ocidoc_parse(text, &d, &c, err, sizeof(err)) == 0);
	hr_ocidoc_desc_free(&c.best);
	hr_ocidoc_desc_free(&c.first);
	hr_ocidoc_free(&d);
	return c.n_ties;
}

static void test_docker_names(void)
{
	char names[HR_OCIDOC_LIST_MAX], plats[HR_OCIDOC_LIST_MAX];

	CHOICE(SAVED, 1, "bb", "sha256:b");
	CHOICE(SAVED, 1, "bb:latest", "sha256:b");
	CHOICE(SAVED, 1, "library/bb:latest", "sha256:b");
	CHOICE(SAVED, 1, "docker.io/library/aa:latest", "sha256:a");
	CHOICE(SAVED, 1, "2", "sha256:c");
	CHOICE(SAVED, 1, "ghcr.io/o/cc:2", "sha256:c");
	CHOICE(SAVED, 1, "cc", NULL);		/* short names are docker.io's only */
	CHOICE(SAVED, 1, "aa:2", NULL);
	CHECK_INT(ties(SAVED, NULL), 1);	/* aa and bb are both "latest" */
	CHECK_INT(ties(SAVED, "latest"), 1);
	CHECK_INT(ties(SAVED, "aa"), 0);
	/* one manifest listed twice is no tie */
	CHECK_INT(ties("{\"manifests\":[" D("v", "") "," D("v", "") "]}", "v"), 0);
	free(choose(SAVED, 1, "zz", "amd64", names, plats));
	CHECK_STR(names, "docker.io/library/aa:latest, docker.io/library/bb:latest, ghcr.io/o/cc:2");
}

static void test_bad_documents(void)
{
	static const char *const bad[] = {
		"", "[]", "{\"manifests\":{}}", "{\"manifests\":[1]}", "{\"mediaType\":5}",
		"{\"manifests\":[{\"size\":-1}]}", "{\"manifests\":[{\"size\":1.5}]}",
		"{\"manifests\":[{\"platform\":[]}]}", "{\"layers\":[{\"digest\":1}]}",
		"{\"config\":\"x\"}", "{} x",
	};
	struct hr_ocidoc_chooser c = { .arch = "amd64" };
	struct hr_ocidoc d = { 0 };
	char err[160];
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		CHECKF(hr_ocidoc_parse(bad[i], &d, &c, err, sizeof(err)) != 0 && err[0],
			"accepted: %s", bad[i]);
		hr_ocidoc_free(&d);
		hr_ocidoc_desc_free(&c.best);
		memset(&c, 0, sizeof(c));
		c.arch = "amd64";
	}
}

static void test_manifest(void)
{
	static const char text[] = "{\"schemaVersion\":2,\"config\":{\"digest\":\"sha256:c\","
		"\"size\":3},\"layers\":[{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar+gzip\","
		"\"digest\":\"sha256:l1\",\"size\":10},{\"digest\":\"sha256:l2\",\"size\":0,"
		"\"urls\":[\"http://x\"]}],\"annotations\":null}";
	struct hr_ocidoc d = { 0 };
	char err[160];

	CHECKF(hr_ocidoc_parse(text, &d, NULL, err, sizeof(err)) == 0, "%s", err);
	CHECK(d.has_layers && !d.has_manifests && d.n_layers == 2);
	CHECK_STR(d.config.digest, "sha256:c");
	CHECK(d.config.has_size && d.config.size == 3);
	CHECK_STR(d.layers[0].media_type, "application/vnd.oci.image.layer.v1.tar+gzip");
	CHECK(d.layers[1].has_urls && !d.layers[0].has_urls && d.layers[1].size == 0);
	CHECK(!hr_ocidoc_is_index(d.media_type));
	CHECK(hr_ocidoc_is_index("application/vnd.oci.image.index.v1+json"));
	CHECK(hr_ocidoc_is_index("application/vnd.docker.distribution.manifest.list.v2+json"));
	hr_ocidoc_free(&d);
}

static void test_config(void)
{
	static const char text[] = "{\"architecture\":\"arm64\",\"os\":\"linux\",\"config\":{"
		"\"Entrypoint\":[\"/e\"],\"Cmd\":null,\"Env\":[\"A=1\",\"B=x=y\"],"
		"\"WorkingDir\":\"/w\",\"WorkingDir\":null,\"Labels\":{\"x\":[]}},\"rootfs\":{}}";
	struct hr_ocidoc_config c = { 0 };
	char err[160];

	CHECKF(hr_ocidoc_config(text, &c, err, sizeof(err)) == 0, "%s", err);
	CHECK(c.entrypoint.n == 1 && !strcmp(c.entrypoint.v[0], "/e"));
	CHECK(c.cmd.n == 0 && c.env.n == 2 && !strcmp(c.env.v[1], "B=x=y"));
	CHECK_STR(c.workdir, "");	/* null: none, read as "" */
	CHECK_STR(c.arch, "arm64");
	hr_ocidoc_config_free(&c);
	CHECK(hr_ocidoc_config("{\"config\":{\"Cmd\":\"sh\"}}", &c, err, sizeof(err)) != 0);
	CHECKF(strstr(err, "\"Cmd\" is not an array of strings") != NULL, "%s", err);
	hr_ocidoc_config_free(&c);
	CHECK(hr_ocidoc_config("{\"config\":{\"Env\":[1]}}", &c, err, sizeof(err)) != 0);
	hr_ocidoc_config_free(&c);
	CHECK(hr_ocidoc_config("{\"config\":5}", &c, err, sizeof(err)) != 0);
	CHECKF(strstr(err, "\"config\" is not an object") != NULL, "%s", err);
	hr_ocidoc_config_free(&c);
}

#define HEX64 "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

/* CFG parsed, then its rootfs against N layers: 0, or -1 with ERR. */
static int rootfs(const char *text, size_t n, char *err, size_t errlen)
{
	struct hr_ocidoc_config c = { 0 };
	int rc = hr_ocidoc_config(text, &c, err, errlen);

	if (rc == 0)
		rc = hr_ocidoc_rootfs(&c, n, err, errlen);
	hr_ocidoc_config_free(&c);
	return rc;
}

static void test_rootfs(void)
{
	static const char two[] = "{\"rootfs\":{\"type\":\"layers\",\"diff_ids\":["
		"\"sha256:" HEX64 "\",\"sha256:" HEX64 "\"]},\"config\":{}}";
	struct hr_ocidoc_config c = { 0 };
	char err[300];

	CHECKF(hr_ocidoc_config(two, &c, err, sizeof(err)) == 0, "%s", err);
	CHECK(c.has_rootfs && c.diff_ids.n == 2);
	CHECK_STR(c.rootfs_type, "layers");
	CHECK_STR(c.diff_ids.v[1], "sha256:" HEX64);
	CHECKF(hr_ocidoc_rootfs(&c, 2, err, sizeof(err)) == 0, "%s", err);
	hr_ocidoc_config_free(&c);
	CHECK(rootfs(two, 3, err, sizeof(err)) != 0);
	CHECK_STR(err, "rootfs.diff_ids lists 2 layers, the manifest 3 layers");
	CHECK(rootfs(two, 1, err, sizeof(err)) != 0);
	CHECK_STR(err, "rootfs.diff_ids lists 2 layers, the manifest 1 layer");
	/* no layers, none listed: fine */
	CHECK(rootfs("{\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[]}}", 0, err,
		sizeof(err)) == 0);
	/* malformed entries, named with their index */
	CHECK(rootfs("{\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\"sha256:" HEX64 "\","
		"\"sha256:" HEX64 "0\"]}}", 2, err, sizeof(err)) != 0);
	CHECK_STR(err, "rootfs.diff_ids[1] is \"sha256:" HEX64 "0\", not sha256: and 64 "
		"lower-case hex digits");
	CHECK(rootfs("{\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\"sha256:"
		"0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef\"]}}", 1, err,
		sizeof(err)) != 0);
	CHECK(strstr(err, "rootfs.diff_ids[0] is") != NULL);
	CHECK(rootfs("{\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\"sha512:" HEX64
		HEX64 "\"]}}", 1, err, sizeof(err)) != 0);
	CHECK(rootfs("{\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\"\\u0001\"]}}", 1,
		err, sizeof(err)) != 0);
	CHECKF(strstr(err, "is \"\\x01\"") != NULL, "%s", err);
	/* rootfs missing, its type missing or another */
	CHECK(rootfs("{\"config\":{}}", 0, err, sizeof(err)) != 0);
	CHECK_STR(err, "no \"rootfs\" (the layers' uncompressed digests)");
	CHECK(rootfs("{\"rootfs\":{\"diff_ids\":[]}}", 0, err, sizeof(err)) != 0);
	CHECK_STR(err, "no \"rootfs\" \"type\" (the layers' uncompressed digests)");
	CHECK(rootfs("{\"rootfs\":{\"type\":\"tar\",\"diff_ids\":[]}}", 0, err,
		sizeof(err)) != 0);
	CHECK_STR(err, "rootfs.type is \"tar\", not \"layers\"");
	/* wrong JSON types */
	CHECK(rootfs("{\"rootfs\":[]}", 0, err, sizeof(err)) != 0);
	CHECKF(strstr(err, "\"rootfs\" is not an object") != NULL, "%s", err);
	CHECK(rootfs("{\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[5]}}", 1, err,
		sizeof(err)) != 0);
	CHECKF(strstr(err, "\"diff_ids\" is not an array of strings") != NULL, "%s", err);
	CHECK(rootfs("{\"rootfs\":{\"type\":7}}", 0, err, sizeof(err)) != 0);
	CHECKF(strstr(err, "\"type\" is not a string") != NULL, "%s", err);
}

int main(void)
{
	CHECK_CASE(test_index());
	CHECK_CASE(test_docker_names());
	CHECK_CASE(test_bad_documents());
	CHECK_CASE(test_manifest());
	CHECK_CASE(test_config());
	CHECK_CASE(test_rootfs());
	return check_done();
}
