// needs: contract/json.c contract/config.c
/*
 * Unit tests for contract/config.c: every field, defaults, type errors,
 * hostile input, the volume path rule, and the writer: random configs
 * written, parsed back and compared.
 */
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include "check.h"
#include "config.h"

static char err[256];

/* Parses doc (a C string); 0 or -1 like hm_config_parse. */
static int parse(const char *doc, struct hm_config *cfg)
{
	err[0] = '\0';
	return hm_config_parse(doc, strlen(doc), cfg, err, sizeof(err));
}

/* doc must fail with exactly want as the message. */
static void check_error(int line, const char *doc, const char *want)
{
	struct hm_config cfg;
	int r = parse(doc, &cfg);

	check_at(__FILE__, line, r == -1, "accepted: %s", doc);
	check_str_at(__FILE__, line, err, want, doc);
	/* A failed parse leaves nothing to free, and freeing is still safe. */
	check_at(__FILE__, line, cfg.entrypoint == NULL && cfg.env == NULL
		&& cfg.volumes == NULL && cfg.workdir == NULL, "cfg not empty after error");
	hm_config_free(&cfg);
}
#define ERROR(doc, want) check_error(__LINE__, doc, want)

static const char full_doc[] =
	"{\"entrypoint\":[\"/docker-entrypoint.sh\"],"
	"\"cmd\":[\"nginx\",\"-g\",\"daemon off;\"],"
	"\"workdir\":\"/srv\","
	"\"env\":{\"PATH\":\"/usr/bin:/bin\",\"EMPTY\":\"\",\"Q\":\"a \\\"b\\\" $c\\n\",\"U\":\"\\u00e9\\ud83d\\ude00\"},"
	"\"network_enabled\":true,"
	"\"guest_ip\":\"10.100.0.2\",\"guest_gw\":\"10.100.0.1\",\"guest_dns\":\"1.1.1.1\","
	"\"guest_cidr\":16,"
	"\"volume_mounts\":[{\"device\":\"/dev/vdd\",\"path\":\"/data\",\"mode\":\"rw\"},"
	"{\"device\":\"/dev/vde\",\"path\":\"/ro\",\"mode\":\"ro\"},"
	"{\"device\":\"/dev/vdf\",\"path\":\"/ov\",\"mode\":\"overlay\",\"overlay_device\":\"/dev/vdg\"}],"
	"\"init_mode\":\"exec\","
	"\"skip_guest_agent\":true,\"skip_kernel_headers\":true,\"has_gpu\":true,"
	"\"egress_proxy\":{\"enabled\":true,\"proxy_url\":\"http://10.100.0.1:3128\","
	"\"ca_cert_pem\":\"-----BEGIN CERTIFICATE-----\\nMIIB\\n-----END CERTIFICATE-----\\n\"}}";

static void test_full(void)
{
	struct hm_config c;

	CHECKF(parse(full_doc, &c) == 0, "full doc: %s", err);
	CHECK_INT(c.n_entrypoint, 1);
	CHECK_STR(c.entrypoint[0], "/docker-entrypoint.sh");
	CHECK(c.entrypoint[1] == NULL);
	CHECK_INT(c.n_cmd, 3);
	CHECK_STR(c.cmd[0], "nginx");
	CHECK_STR(c.cmd[1], "-g");
	CHECK_STR(c.cmd[2], "daemon off;");
	CHECK(c.cmd[3] == NULL);
	CHECK_STR(c.workdir, "/srv");
	CHECK_INT(c.n_env, 4);
	CHECK_STR(c.env[0].key, "PATH");
	CHECK_STR(c.env[0].value, "/usr/bin:/bin");
	CHECK_STR(c.env[1].key, "EMPTY");
	CHECK_STR(c.env[1].value, "");
	CHECK_STR(c.env[2].key, "Q");
	CHECK_STR(c.env[2].value, "a \"b\" $c\n");
	CHECK_STR(c.env[3].key, "U");
	CHECK_STR(c.env[3].value, "\xc3\xa9\xf0\x9f\x98\x80");
	CHECK(c.network_enabled);
	CHECK_STR(c.guest_ip, "10.100.0.2");
	CHECK_STR(c.guest_gw, "10.100.0.1");
	CHECK_STR(c.guest_dns, "1.1.1.1");
	CHECK_INT(c.guest_cidr, 16);
	CHECK_INT(c.n_volumes, 3);
	CHECK_STR(c.volumes[0].device, "/dev/vdd");
	CHECK_STR(c.volumes[0].path, "/data");
	CHECK_STR(c.volumes[0].mode, "rw");
	CHECK(c.volumes[0].overlay_device == NULL);
	CHECK_STR(c.volumes[1].device, "/dev/vde");
	CHECK_STR(c.volumes[1].mode, "ro");
	CHECK_STR(c.volumes[2].mode, "overlay");
	CHECK_STR(c.volumes[2].overlay_device, "/dev/vdg");
	CHECK_STR(c.init_mode, "exec");
	CHECK(c.skip_guest_agent);
	CHECK(c.skip_kernel_headers);
	CHECK(c.has_gpu);
	CHECK(c.egress_proxy_enabled);
	CHECK_STR(c.egress_proxy_url, "http://10.100.0.1:3128");
	CHECK_STR(c.egress_ca_cert_pem,
		"-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n");
	hm_config_free(&c);
	CHECK(c.entrypoint == NULL && c.env == NULL && c.guest_cidr == -1);
	/* Freeing twice is harmless. */
	hm_config_free(&c);
}

static void check_defaults(int line, const char *doc)
{
	struct hm_config c;

	if (!check_at(__FILE__, line, parse(doc, &c) == 0, "%s: %s", doc, err))
		return;
	check_at(__FILE__, line, c.entrypoint && !c.entrypoint[0] && c.n_entrypoint == 0
		&& c.cmd && !c.cmd[0] && c.n_cmd == 0, "%s: empty entrypoint/cmd", doc);
	check_str_at(__FILE__, line, c.workdir, "/", "workdir");
	check_at(__FILE__, line, c.env == NULL && c.n_env == 0, "%s: env", doc);
	check_at(__FILE__, line, !c.network_enabled && !c.guest_ip && !c.guest_gw
		&& !c.guest_dns && c.guest_cidr == -1, "%s: network", doc);
	check_at(__FILE__, line, c.volumes == NULL && c.n_volumes == 0, "%s: volumes", doc);
	check_at(__FILE__, line, !c.init_mode && !c.skip_guest_agent
		&& !c.skip_kernel_headers && !c.has_gpu, "%s: flags", doc);
	check_at(__FILE__, line, !c.egress_proxy_enabled && !c.egress_proxy_url
		&& !c.egress_ca_cert_pem, "%s: egress", doc);
	hm_config_free(&c);
}
#define DEFAULTS(doc) check_defaults(__LINE__, doc)

static void test_defaults_and_null(void)
{
	DEFAULTS("{}");
	DEFAULTS(" \n{ }\n");
	/* null means absent, for every field. */
	DEFAULTS("{\"entrypoint\":null,\"cmd\":null,\"workdir\":null,\"env\":null,"
		"\"network_enabled\":null,\"guest_ip\":null,\"guest_gw\":null,"
		"\"guest_dns\":null,\"guest_cidr\":null,\"volume_mounts\":null,"
		"\"init_mode\":null,\"skip_guest_agent\":null,\"skip_kernel_headers\":null,"
		"\"has_gpu\":null,\"egress_proxy\":null}");
	/* Empty containers and an empty workdir are the defaults too. */
	DEFAULTS("{\"entrypoint\":[],\"cmd\":[],\"workdir\":\"\",\"env\":{},\"volume_mounts\":[]}");
	DEFAULTS("{\"egress_proxy\":{}}");
	DEFAULTS("{\"egress_proxy\":{\"enabled\":null,\"proxy_url\":null,\"ca_cert_pem\":null}}");
	/* Explicit false. */
	DEFAULTS("{\"network_enabled\":false,\"skip_guest_agent\":false,"
		"\"skip_kernel_headers\":false,\"has_gpu\":false,\"egress_proxy\":{\"enabled\":false}}");
	/* A later null (or empty value) replaces an earlier value. */
	DEFAULTS("{\"cmd\":[\"a\"],\"cmd\":null,\"workdir\":\"/x\",\"workdir\":null,"
		"\"guest_cidr\":8,\"guest_cidr\":null,\"has_gpu\":true,\"has_gpu\":null,"
		"\"env\":{\"A\":\"1\"},\"env\":null,\"guest_ip\":\"1.2.3.4\",\"guest_ip\":null,"
		"\"volume_mounts\":[{\"device\":\"/dev/vdd\",\"path\":\"/d\",\"mode\":\"rw\"}],"
		"\"volume_mounts\":[],\"egress_proxy\":{\"enabled\":true,\"proxy_url\":\"u\"},"
		"\"egress_proxy\":null,\"init_mode\":\"exec\",\"init_mode\":null}");
}

static void test_type_errors(void)
{
	ERROR("{\"entrypoint\":\"/bin/sh\"}",
		"field \"entrypoint\": expected array of strings, got string");
	ERROR("{\"entrypoint\":{}}", "field \"entrypoint\": expected array of strings, got object");
	ERROR("{\"entrypoint\":[\"a\",1]}", "field \"entrypoint[1]\": expected string, got number");
	ERROR("{\"entrypoint\":[null]}", "field \"entrypoint[0]\": expected string, got null");
	ERROR("{\"cmd\":true}", "field \"cmd\": expected array of strings, got boolean");
	ERROR("{\"cmd\":[\"a\",\"b\",[\"c\"]]}", "field \"cmd[2]\": expected string, got array");
	ERROR("{\"workdir\":1}", "field \"workdir\": expected string, got number");
	ERROR("{\"workdir\":[\"/\"]}", "field \"workdir\": expected string, got array");
	ERROR("{\"env\":[]}", "field \"env\": expected object, got array");
	ERROR("{\"env\":\"A=B\"}", "field \"env\": expected object, got string");
	ERROR("{\"env\":{\"A\":\"1\",\"B\":2}}", "field \"env.B\": expected string, got number");
	ERROR("{\"env\":{\"A\":null}}", "field \"env.A\": expected string, got null");
	ERROR("{\"env\":{\"A\":true}}", "field \"env.A\": expected string, got boolean");
	/* Keys in messages are made printable. */
	ERROR("{\"env\":{\"a\\n\\\"b\":{}}}", "field \"env.a??b\": expected string, got object");
	ERROR("{\"network_enabled\":\"true\"}",
		"field \"network_enabled\": expected boolean, got string");
	ERROR("{\"network_enabled\":1}", "field \"network_enabled\": expected boolean, got number");
	ERROR("{\"guest_ip\":10}", "field \"guest_ip\": expected string, got number");
	ERROR("{\"guest_gw\":false}", "field \"guest_gw\": expected string, got boolean");
	ERROR("{\"guest_dns\":[\"1.1.1.1\"]}", "field \"guest_dns\": expected string, got array");
	ERROR("{\"guest_cidr\":\"24\"}", "field \"guest_cidr\": expected an integer 0..32, got string");
	ERROR("{\"guest_cidr\":true}", "field \"guest_cidr\": expected an integer 0..32, got boolean");
	ERROR("{\"guest_cidr\":1.5}", "field \"guest_cidr\": expected an integer 0..32, got 1.5");
	ERROR("{\"guest_cidr\":24.0}", "field \"guest_cidr\": expected an integer 0..32, got 24.0");
	ERROR("{\"guest_cidr\":1e3}", "field \"guest_cidr\": expected an integer 0..32, got 1e3");
	ERROR("{\"guest_cidr\":2e1}", "field \"guest_cidr\": expected an integer 0..32, got 2e1");
	ERROR("{\"guest_cidr\":-1}", "field \"guest_cidr\": expected an integer 0..32, got -1");
	ERROR("{\"guest_cidr\":33}", "field \"guest_cidr\": expected an integer 0..32, got 33");
	ERROR("{\"guest_cidr\":99999999999999999999999}",
		"field \"guest_cidr\": expected an integer 0..32, got 99999999999999999999999");
	ERROR("{\"volume_mounts\":{}}", "field \"volume_mounts\": expected array of objects, got object");
	ERROR("{\"volume_mounts\":[\"/dev/vdd\"]}",
		"field \"volume_mounts[0]\": expected object, got string");
	ERROR("{\"volume_mounts\":[null]}", "field \"volume_mounts[0]\": expected object, got null");
	ERROR("{\"init_mode\":1}", "field \"init_mode\": expected string, got number");
	ERROR("{\"skip_guest_agent\":\"yes\"}",
		"field \"skip_guest_agent\": expected boolean, got string");
	ERROR("{\"skip_kernel_headers\":0}",
		"field \"skip_kernel_headers\": expected boolean, got number");
	ERROR("{\"has_gpu\":[]}", "field \"has_gpu\": expected boolean, got array");
	ERROR("{\"egress_proxy\":true}", "field \"egress_proxy\": expected object, got boolean");
	ERROR("{\"egress_proxy\":{\"enabled\":\"true\"}}",
		"field \"egress_proxy.enabled\": expected boolean, got string");
	ERROR("{\"egress_proxy\":{\"proxy_url\":1}}",
		"field \"egress_proxy.proxy_url\": expected string, got number");
	ERROR("{\"egress_proxy\":{\"ca_cert_pem\":{}}}",
		"field \"egress_proxy.ca_cert_pem\": expected string, got object");
}

static void test_cidr(void)
{
	struct hm_config c;

	CHECK(parse("{\"guest_cidr\":0}", &c) == 0 && c.guest_cidr == 0);
	hm_config_free(&c);
	CHECK(parse("{\"guest_cidr\":32}", &c) == 0 && c.guest_cidr == 32);
	hm_config_free(&c);
	CHECK(parse("{\"guest_cidr\":-0}", &c) == 0 && c.guest_cidr == 0);
	hm_config_free(&c);
	CHECK(parse("{\"guest_cidr\":24}", &c) == 0 && c.guest_cidr == 24);
	hm_config_free(&c);
}

#define VOL(x) "{\"volume_mounts\":[{\"device\":\"/dev/vdd\",\"path\":\"/a\",\"mode\":\"ro\"}," x "]}"

static void test_volumes(void)
{
	struct hm_config c;

	ERROR(VOL("{\"device\":\"/dev/vde\",\"path\":\"/b\",\"mode\":\"RW\"}"),
		"field \"volume_mounts[1].mode\": expected \"ro\", \"rw\" or \"overlay\", got \"RW\"");
	ERROR(VOL("{\"device\":\"/dev/vde\",\"path\":\"/b\",\"mode\":\"\"}"),
		"field \"volume_mounts[1].mode\": expected \"ro\", \"rw\" or \"overlay\", got \"\"");
	ERROR(VOL("{\"device\":\"/dev/vde\",\"path\":\"/b\",\"mode\":\"a\\\"b\\n\"}"),
		"field \"volume_mounts[1].mode\": expected \"ro\", \"rw\" or \"overlay\", got \"a?b?\"");
	ERROR(VOL("{\"device\":\"/dev/vde\",\"path\":\"/b\",\"mode\":1}"),
		"field \"volume_mounts[1].mode\": expected string, got number");
	ERROR(VOL("{\"device\":\"/dev/vde\",\"path\":\"/b\"}"),
		"field \"volume_mounts[1].mode\": missing or empty");
	ERROR(VOL("{\"device\":\"/dev/vde\",\"path\":\"/b\",\"mode\":null}"),
		"field \"volume_mounts[1].mode\": missing or empty");
	ERROR(VOL("{\"path\":\"/b\",\"mode\":\"rw\"}"),
		"field \"volume_mounts[1].device\": missing or empty");
	ERROR(VOL("{\"device\":\"\",\"path\":\"/b\",\"mode\":\"rw\"}"),
		"field \"volume_mounts[1].device\": missing or empty");
	ERROR(VOL("{\"device\":[],\"path\":\"/b\",\"mode\":\"rw\"}"),
		"field \"volume_mounts[1].device\": expected string, got array");
	ERROR(VOL("{\"device\":\"/dev/vde\",\"mode\":\"rw\"}"),
		"field \"volume_mounts[1].path\": missing or empty");
	ERROR(VOL("{\"device\":\"/dev/vde\",\"path\":false,\"mode\":\"rw\"}"),
		"field \"volume_mounts[1].path\": expected string, got boolean");
	ERROR(VOL("{\"device\":\"/dev/vde\",\"path\":\"/b\",\"mode\":\"overlay\"}"),
		"field \"volume_mounts[1].overlay_device\": missing or empty, required when mode is \"overlay\"");
	ERROR(VOL("{\"device\":\"/dev/vde\",\"path\":\"/b\",\"mode\":\"overlay\",\"overlay_device\":\"\"}"),
		"field \"volume_mounts[1].overlay_device\": missing or empty, required when mode is \"overlay\"");
	ERROR(VOL("{\"device\":\"/dev/vde\",\"path\":\"/b\",\"mode\":\"overlay\",\"overlay_device\":5}"),
		"field \"volume_mounts[1].overlay_device\": expected string, got number");
	ERROR(VOL("{}"), "field \"volume_mounts[1].device\": missing or empty");

	/* overlay_device is dropped unless the mode is overlay; unknown keys are skipped. */
	CHECKF(parse(VOL("{\"x\":[1,{\"y\":null}],\"device\":\"/dev/vde\",\"path\":\"/b\","
		"\"mode\":\"rw\",\"overlay_device\":\"/dev/vdf\",\"readonly\":true}"), &c) == 0, "%s", err);
	CHECK_INT(c.n_volumes, 2);
	CHECK(c.volumes[1].overlay_device == NULL);
	CHECK_STR(c.volumes[1].path, "/b");
	hm_config_free(&c);

	/* Last one wins inside a volume too. */
	CHECKF(parse(VOL("{\"device\":\"/dev/vdx\",\"device\":\"/dev/vde\",\"path\":\"/b\","
		"\"mode\":\"overlay\",\"mode\":\"ro\"}"), &c) == 0, "%s", err);
	CHECK_STR(c.volumes[1].device, "/dev/vde");
	CHECK_STR(c.volumes[1].mode, "ro");
	hm_config_free(&c);

	/* Paths are kept as given: the volume code validates them. */
	CHECKF(parse(VOL("{\"device\":\"/dev/vde\",\"path\":\"../../etc\",\"mode\":\"rw\"}"), &c) == 0,
		"%s", err);
	CHECK_STR(c.volumes[1].path, "../../etc");
	hm_config_free(&c);

	/* Many volumes (array growth). */
	{
		char doc[8192];
		size_t n;
		int i;

		n = (size_t)sprintf(doc, "{\"volume_mounts\":[");
		for (i = 0; i < 40; i++)
			n += (size_t)sprintf(doc + n, "%s{\"device\":\"/dev/v%d\",\"path\":\"/m%d\",\"mode\":\"rw\"}",
				i ? "," : "", i, i);
		strcpy(doc + n, "]}");
		CHECKF(parse(doc, &c) == 0, "%s", err);
		CHECK_INT(c.n_volumes, 40);
		CHECK_STR(c.volumes[39].device, "/dev/v39");
		CHECK_STR(c.volumes[39].path, "/m39");
		hm_config_free(&c);
	}
}

static void test_env(void)
{
	struct hm_config c;
	char *doc, *p;
	int i;

	/* Last one wins; the entry moves to its last position. */
	CHECKF(parse("{\"env\":{\"A\":\"1\",\"B\":\"2\",\"A\":\"3\",\"C\":\"4\",\"B\":\"5\",\"B\":\"6\"}}", &c) == 0,
		"%s", err);
	CHECK_INT(c.n_env, 3);
	CHECK_STR(c.env[0].key, "A");
	CHECK_STR(c.env[0].value, "3");
	CHECK_STR(c.env[1].key, "C");
	CHECK_STR(c.env[1].value, "4");
	CHECK_STR(c.env[2].key, "B");
	CHECK_STR(c.env[2].value, "6");
	hm_config_free(&c);

	/* Keys are not validated here (init warns and skips them later). */
	CHECKF(parse("{\"env\":{\"\":\"e\",\"A=B\":\"x\",\"a b\":\"y\"}}", &c) == 0, "%s", err);
	CHECK_INT(c.n_env, 3);
	CHECK_STR(c.env[0].key, "");
	CHECK_STR(c.env[1].key, "A=B");
	CHECK_STR(c.env[2].key, "a b");
	hm_config_free(&c);

	/* A whole later env replaces the earlier one (no merge). */
	CHECKF(parse("{\"env\":{\"A\":\"1\"},\"env\":{\"B\":\"2\"}}", &c) == 0, "%s", err);
	CHECK_INT(c.n_env, 1);
	CHECK_STR(c.env[0].key, "B");
	hm_config_free(&c);

	/* 60000 keys, half repeated: must stay fast (no quadratic dedup). */
	doc = malloc(1024 * 1024);
	p = doc + sprintf(doc, "{\"env\":{");
	for (i = 0; i < 60000; i++)
		p += sprintf(p, "%s\"K%d\":\"%d\"", i ? "," : "", i % 30000, i);
	strcpy(p, "}}");
	CHECKF(parse(doc, &c) == 0, "%s", err);
	CHECK_INT(c.n_env, 30000);
	CHECK_STR(c.env[0].key, "K0");
	CHECK_STR(c.env[0].value, "30000");
	CHECK_STR(c.env[29999].value, "59999");
	hm_config_free(&c);
	free(doc);

	CHECK(hm_env_key_valid("PATH"));
	CHECK(hm_env_key_valid("a b"));
	CHECK(hm_env_key_valid("_"));
	CHECK(hm_env_key_valid("\xc3\xa9"));
	CHECK(!hm_env_key_valid(""));
	CHECK(!hm_env_key_valid("="));
	CHECK(!hm_env_key_valid("A=B"));
	CHECK(!hm_env_key_valid("A="));
	CHECK(!hm_env_key_valid(NULL));
}

static void test_duplicates_and_unknown(void)
{
	struct hm_config c;

	CHECKF(parse("{\"cmd\":[\"a\"],\"cmd\":[\"b\",\"c\"],\"workdir\":\"/x\",\"workdir\":\"/y\","
		"\"guest_cidr\":8,\"guest_cidr\":24,\"has_gpu\":true,\"has_gpu\":false,"
		"\"egress_proxy\":{\"enabled\":true,\"proxy_url\":\"u\"},"
		"\"egress_proxy\":{\"ca_cert_pem\":\"p\"}}", &c) == 0, "%s", err);
	CHECK_INT(c.n_cmd, 2);
	CHECK_STR(c.cmd[0], "b");
	CHECK_STR(c.workdir, "/y");
	CHECK_INT(c.guest_cidr, 24);
	CHECK(!c.has_gpu);
	/* The second egress_proxy replaces the first as a whole. */
	CHECK(!c.egress_proxy_enabled);
	CHECK(c.egress_proxy_url == NULL);
	CHECK_STR(c.egress_ca_cert_pem, "p");
	hm_config_free(&c);

	/* Unknown fields of every type, nested, and with odd names, are ignored. */
	CHECKF(parse("{\"u1\":null,\"u2\":true,\"u3\":false,\"u4\":-1.5e+7,\"u5\":\"s\\u00e9\","
		"\"u6\":[],\"u7\":{},\"u8\":[1,[2,[3,{\"a\":[{}]}]]],\"\":0,\"Cmd\":1,\"cmd \":2,"
		"\"cmd\":[\"x\"],\"u9\":{\"cmd\":5,\"env\":[]}}", &c) == 0, "%s", err);
	CHECK_INT(c.n_cmd, 1);
	CHECK_STR(c.cmd[0], "x");
	hm_config_free(&c);

	/* An unknown value may nest up to the limit (63 levels below the top object)... */
	{
		char doc[512];
		int i, n;

		n = sprintf(doc, "{\"x\":");
		for (i = 0; i < 63; i++)
			doc[n++] = '[';
		for (i = 0; i < 63; i++)
			doc[n++] = ']';
		strcpy(doc + n, "}");
		CHECKF(parse(doc, &c) == 0, "63 levels: %s", err);
		hm_config_free(&c);
		/* ...but not beyond. */
		n = sprintf(doc, "{\"x\":");
		for (i = 0; i < 64; i++)
			doc[n++] = '[';
		for (i = 0; i < 64; i++)
			doc[n++] = ']';
		strcpy(doc + n, "}");
		ERROR(doc, "offset 68: nesting deeper than 64 levels");
	}
}

static void test_init_mode(void)
{
	static const char *const modes[] = { "exec", "systemd", "auto", "", "bogus", "EXEC" };
	struct hm_config c;
	char doc[64];
	unsigned i;

	for (i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		sprintf(doc, "{\"init_mode\":\"%s\"}", modes[i]);
		CHECKF(parse(doc, &c) == 0, "%s: %s", doc, err);
		CHECK_STR(c.init_mode, modes[i]);
		hm_config_free(&c);
	}
}

static void test_bad_documents(void)
{
	struct hm_config c;
	char *big;
	size_t n;

	ERROR("", "config is empty");
	ERROR("   \n", "offset 4: unexpected end of input");
	ERROR("[]", "config must be a JSON object, got array");
	ERROR("\"{}\"", "config must be a JSON object, got string");
	ERROR("null", "config must be a JSON object, got null");
	ERROR("42", "config must be a JSON object, got number");
	ERROR("{} {}", "offset 3: unexpected data after the top-level value");
	ERROR("{}x", "offset 2: unexpected data after the top-level value");
	ERROR("{\"cmd\":[\"a\"] \"workdir\":\"/\"}", "offset 13: expected ',' or '}'");
	ERROR("{\"cmd\":[\"a\",]}", "offset 12: unexpected character ']'");
	ERROR("{\"env\":{\"A\":\"\\u0000\"}}", "offset 13: \\u0000 is not allowed");
	ERROR("{\"workdir\":\"\\ud800\"}", "offset 12: lone surrogate in \\u escape");
	ERROR("{\"workdir\":\"\xff\"}", "offset 12: invalid UTF-8 in string");
	ERROR("{\"unknown\":\"\xc0\x80\"}", "offset 12: invalid UTF-8 in string");
	ERROR("{\"cmd\":[\"a\"]", "offset 12: unexpected end of input");
	ERROR("\xef\xbb\xbf{}", "offset 0: unexpected byte 0xef");
	/* Embedded NUL: the length counts, not strlen. */
	CHECK(hm_config_parse("{}\0", 3, &c, err, sizeof(err)) == -1);
	CHECK_STR(err, "offset 2: unexpected data after the top-level value");
	CHECK(hm_config_parse("{\"cmd\":[\"a\0b\"]}", 15, &c, err, sizeof(err)) == -1);
	CHECK_STR(err, "offset 10: control character in string");
	/* Only len bytes are read. */
	CHECK(hm_config_parse("{}garbage", 2, &c, err, sizeof(err)) == 0);
	hm_config_free(&c);
	/* No err buffer is fine. */
	CHECK(hm_config_parse("[", 1, &c, NULL, 0) == -1);

	/* Size limit: exactly 1 MiB is fine, 2 MiB is not (checked before parsing). */
	big = malloc(2 * 1024 * 1024);
	n = HM_CONFIG_MAX_BYTES;
	memset(big, ' ', n);
	memcpy(big, "{\"pad\":\"", 8);
	memcpy(big + n - 3, "\" }", 3);
	memset(big + 8, 'x', n - 11);
	CHECKF(hm_config_parse(big, n, &c, err, sizeof(err)) == 0, "1 MiB: %s", err);
	hm_config_free(&c);
	CHECK(hm_config_parse(big, n + 1, &c, err, sizeof(err)) == -1);
	CHECK_STR(err, "config is 1048577 bytes, limit is 1048576");
	memset(big, ' ', 2 * 1024 * 1024);
	memcpy(big, "{}", 2);
	CHECK(hm_config_parse(big, 2 * 1024 * 1024, &c, err, sizeof(err)) == -1);
	CHECK_STR(err, "config is 2097152 bytes, limit is 1048576");
	free(big);

	/* 100000 '[' in a field: an error, no crash. */
	big = malloc(100010);
	memcpy(big, "{\"x\":", 5);
	memset(big + 5, '[', 100000);
	CHECK(hm_config_parse(big, 100005, &c, err, sizeof(err)) == -1);
	CHECK_STR(err, "offset 68: nesting deeper than 64 levels");
	memset(big + 5, '{', 100000);
	CHECK(hm_config_parse(big, 100005, &c, err, sizeof(err)) == -1);
	free(big);

	/* A small err buffer is truncated, not overrun. */
	{
		char small[8];

		CHECK(hm_config_parse("[]", 2, &c, small, sizeof(small)) == -1);
		CHECK_STR(small, "config ");
	}
}

/* Every strict prefix of a valid config is an error, never a crash or leak. */
static void test_prefixes(void)
{
	struct hm_config c;
	size_t len = sizeof(full_doc) - 1, i;
	char *copy;

	for (i = 0; i < len; i++) {
		copy = malloc(i ? i : 1);
		memcpy(copy, full_doc, i);
		CHECKF(hm_config_parse(copy, i, &c, err, sizeof(err)) == -1,
			"prefix of %zu bytes accepted", i);
		CHECKF(err[0] != '\0', "prefix of %zu bytes: no message", i);
		hm_config_free(&c);
		free(copy);
	}
}

static void test_volume_paths(void)
{
	static const struct { const char *p; int ok; } t[] = {
		{ "/data", 1 }, { "/mnt/vol", 1 }, { "//mnt//vol/", 1 }, { "/a/.b/c..", 1 },
		{ "/...", 1 }, { "/etc", 1 },
		{ "", 0 }, { "/", 0 }, { "///", 0 }, { "data", 0 }, { "./data", 0 },
		{ "/data/..", 0 }, { "/../etc", 0 }, { "/a/./b", 0 }, { "/.", 0 }, { "/a/../b", 0 },
	};
	const char *why;
	unsigned i;
	char *big;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		why = "unset";
		CHECKF(hm_volume_path_valid(t[i].p, &why) == t[i].ok, "\"%s\"", t[i].p);
		CHECKF(t[i].ok ? why == NULL : (why && *why), "reason for \"%s\"", t[i].p);
	}
	CHECKF(hm_volume_path_valid(NULL, NULL) == 0, "NULL");
	big = malloc(PATH_MAX + 1);
	if (!CHECK(big != NULL))
		return;
	memset(big, 'a', PATH_MAX);
	big[0] = '/';
	big[PATH_MAX] = '\0';
	CHECKF(hm_volume_path_valid(big, &why) == 0, "long path");
	free(big);
}

/* ---- the writer ---- */

static char *dup_str(const char *s)
{
	char *d = malloc(strlen(s) + 1);

	return d ? strcpy(d, s) : NULL;
}

/* A random string of well-formed UTF-8: quotes, backslashes, controls,
 * 2, 3 and 4 byte sequences; "" too unless NONEMPTY. */
static char *rand_str(int nonempty)
{
	static const char *const parts[] = {
		"a", "Z", " ", "\"", "\\", "\n", "\t", "\x01", "\x1f", "\x7f", "/", "=", "{}",
		"\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x98\x80", "\\u0000", "null",
	};
	char buf[128] = "";
	int n = rand() % 8 + (nonempty ? 1 : 0), i;

	for (i = 0; i < n; i++)
		strcat(buf, parts[rand() % (sizeof(parts) / sizeof(parts[0]))]);
	return dup_str(buf);
}

static char *maybe_str(void)
{
	return rand() % 3 ? rand_str(0) : NULL;
}

static char **rand_strv(int *count)
{
	int n = rand() % 4, i;
	char **v = calloc(n + 1, sizeof(*v));

	for (i = 0; i < n; i++)
		v[i] = rand_str(0);
	*count = n;
	return v;
}

static void rand_env(struct hm_config *c)
{
	int n = rand() % 5, i;

	c->env = calloc(n ? n : 1, sizeof(*c->env));
	for (i = 0; i < n; i++) {
		char key[160];
		char *k = rand_str(0);

		/* unique keys: the parser keeps the last of a repeated one */
		snprintf(key, sizeof(key), "%d%s", i, k);
		free(k);
		c->env[i].key = dup_str(key);
		c->env[i].value = rand_str(0);
	}
	c->n_env = n;
}

static void rand_volumes(struct hm_config *c)
{
	static const char *const modes[] = { "ro", "rw", "overlay" };
	int n = rand() % 4, i;

	c->volumes = calloc(n ? n : 1, sizeof(*c->volumes));
	for (i = 0; i < n; i++) {
		struct hm_volume *v = &c->volumes[i];

		v->device = rand_str(1);
		v->path = rand_str(1);
		v->mode = dup_str(modes[rand() % 3]);
		if (strcmp(v->mode, "overlay") == 0)
			v->overlay_device = rand_str(1);
	}
	c->n_volumes = n;
}

/* A config as the parser gives them: every field random. */
static void rand_config(struct hm_config *c)
{
	memset(c, 0, sizeof(*c));
	c->entrypoint = rand_strv(&c->n_entrypoint);
	c->cmd = rand_strv(&c->n_cmd);
	c->workdir = rand_str(1);	/* "" reads back as "/" */
	rand_env(c);
	c->network_enabled = rand() % 2;
	c->guest_ip = maybe_str();
	c->guest_gw = maybe_str();
	c->guest_dns = maybe_str();
	c->guest_cidr = rand() % 34 - 1;
	rand_volumes(c);
	c->init_mode = maybe_str();
	c->skip_guest_agent = rand() % 2;
	c->skip_kernel_headers = rand() % 2;
	c->has_gpu = rand() % 2;
	c->egress_proxy_enabled = rand() % 2;
	c->egress_proxy_url = maybe_str();
	c->egress_ca_cert_pem = maybe_str();
}

static int same_str(const char *a, const char *b)
{
	return a && b ? strcmp(a, b) == 0 : a == b;
}

static int same_strv(char **a, int na, char **b, int nb)
{
	int i;

	if (na != nb || a[na] || b[nb])
		return 0;
	for (i = 0; i < na; i++)
		if (!same_str(a[i], b[i]))
			return 0;
	return 1;
}

/* The first field where A and B differ, or NULL. */
static const char *config_diff(const struct hm_config *a, const struct hm_config *b)
{
	int i;

	if (!same_strv(a->entrypoint, a->n_entrypoint, b->entrypoint, b->n_entrypoint))
		return "entrypoint";
	if (!same_strv(a->cmd, a->n_cmd, b->cmd, b->n_cmd))
		return "cmd";
	if (!same_str(a->workdir, b->workdir))
		return "workdir";
	if (a->n_env != b->n_env)
		return "env";
	for (i = 0; i < a->n_env; i++)
		if (!same_str(a->env[i].key, b->env[i].key) || !same_str(a->env[i].value, b->env[i].value))
			return "env";
	if (a->network_enabled != b->network_enabled || !same_str(a->guest_ip, b->guest_ip)
	 || !same_str(a->guest_gw, b->guest_gw) || !same_str(a->guest_dns, b->guest_dns)
	 || a->guest_cidr != b->guest_cidr)
		return "network";
	if (a->n_volumes != b->n_volumes)
		return "volume_mounts";
	for (i = 0; i < a->n_volumes; i++)
		if (!same_str(a->volumes[i].device, b->volumes[i].device)
		 || !same_str(a->volumes[i].path, b->volumes[i].path)
		 || !same_str(a->volumes[i].mode, b->volumes[i].mode)
		 || !same_str(a->volumes[i].overlay_device, b->volumes[i].overlay_device))
			return "volume_mounts";
	if (!same_str(a->init_mode, b->init_mode))
		return "init_mode";
	if (a->skip_guest_agent != b->skip_guest_agent || a->skip_kernel_headers != b->skip_kernel_headers
	 || a->has_gpu != b->has_gpu)
		return "a skip flag or has_gpu";
	if (a->egress_proxy_enabled != b->egress_proxy_enabled
	 || !same_str(a->egress_proxy_url, b->egress_proxy_url)
	 || !same_str(a->egress_ca_cert_pem, b->egress_ca_cert_pem))
		return "egress_proxy";
	return NULL;
}

/* Random configs: written, parsed back, the same. */
static void test_round_trip(void)
{
	struct hm_config c, back;
	const char *diff;
	char *text;
	size_t len;
	int i;

	srand(22);
	for (i = 0; i < 3000; i++) {
		rand_config(&c);
		text = hm_config_write(&c, &len, err, sizeof(err));
		if (!CHECKF(text && len == strlen(text), "round %d: not written: %s", i, err)) {
			hm_config_free(&c);
			break;
		}
		if (!CHECKF(parse(text, &back) == 0, "round %d: not read back: %s\n%s", i, err, text)) {
			free(text);
			hm_config_free(&c);
			break;
		}
		diff = config_diff(&c, &back);
		CHECKF(!diff, "round %d: %s differs after writing and reading:\n%s", i, diff, text);
		free(text);
		hm_config_free(&c);
		hm_config_free(&back);
		if (diff)
			break;
	}
}

/* What hypeman run writes: one field a line, absent ones left out. */
static void test_write_shape(void)
{
	static char ep0[] = "/bin/sh", k[] = "K", v[] = "a\"b", dev[] = "/dev/vdd", path[] = "/d";
	static char mode[] = "rw", wd[] = "/", im[] = "exec", bad[] = "\xc3";
	char *ep[] = { ep0, NULL }, *none[] = { NULL };
	struct hm_env env[] = { { k, v } };
	struct hm_volume vol[] = { { dev, path, mode, NULL } };
	struct hm_config c;
	char *text;

	memset(&c, 0, sizeof(c));
	c.entrypoint = ep;
	c.n_entrypoint = 1;
	c.cmd = none;
	c.workdir = wd;
	c.env = env;
	c.n_env = 1;
	c.guest_cidr = -1;
	c.volumes = vol;
	c.n_volumes = 1;
	c.init_mode = im;
	c.has_gpu = true;
	text = hm_config_write(&c, NULL, err, sizeof(err));
	CHECK_STR(text, "{\n  \"entrypoint\": [\"/bin/sh\"],\n  \"cmd\": [],\n  \"workdir\": \"/\",\n"
		"  \"env\": {\"K\": \"a\\\"b\"},\n  \"network_enabled\": false,\n"
		"  \"volume_mounts\": [{\"device\": \"/dev/vdd\", \"path\": \"/d\", \"mode\": \"rw\"}],\n"
		"  \"init_mode\": \"exec\",\n  \"skip_guest_agent\": false,\n"
		"  \"skip_kernel_headers\": false,\n  \"has_gpu\": true\n}\n");
	free(text);
	/* a string that is not UTF-8 is refused, naming the field */
	env[0].value = bad;
	CHECK(hm_config_write(&c, NULL, err, sizeof(err)) == NULL);
	CHECK_STR(err, "field \"env\": not valid UTF-8");
}

int main(void)
{
	CHECK_CASE(test_full());
	CHECK_CASE(test_defaults_and_null());
	CHECK_CASE(test_type_errors());
	CHECK_CASE(test_cidr());
	CHECK_CASE(test_volumes());
	CHECK_CASE(test_env());
	CHECK_CASE(test_duplicates_and_unknown());
	CHECK_CASE(test_init_mode());
	CHECK_CASE(test_bad_documents());
	CHECK_CASE(test_prefixes());
	CHECK_CASE(test_volume_paths());
	CHECK_CASE(test_write_shape());
	CHECK_CASE(test_round_trip());
	return check_done();
}
