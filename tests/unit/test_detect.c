// needs: contract/detect.c
/* Unit tests for contract/detect.c: contract: Detection, and init_mode. */
#include <stddef.h>
#include "check.h"
#include "detect.h"

/* The API takes argv-style arrays; string literals are const here. */
#define V(...) ((char *const *)(const char *const[]){ __VA_ARGS__, NULL })
static char *const empty[] = { NULL };

static void test_detect(void)
{
	/* Empty command: exec (systemd mode falls back to /sbin/init only later). */
	CHECK(!hm_detect_systemd(empty, empty));
	CHECK(!hm_detect_systemd(NULL, NULL));
	CHECK(!hm_detect_systemd(NULL, empty));

	/* The three paths, as cmd and as entrypoint, with or without args. */
	CHECK(hm_detect_systemd(empty, V("/sbin/init")));
	CHECK(hm_detect_systemd(empty, V("/lib/systemd/systemd")));
	CHECK(hm_detect_systemd(empty, V("/usr/lib/systemd/systemd")));
	CHECK(hm_detect_systemd(NULL, V("/sbin/init")));
	CHECK(hm_detect_systemd(V("/sbin/init"), empty));
	CHECK(hm_detect_systemd(V("/lib/systemd/systemd"), NULL));
	CHECK(hm_detect_systemd(V("/usr/lib/systemd/systemd"), empty));
	CHECK(hm_detect_systemd(V("/usr/lib/systemd/systemd", "--log-level=debug"), empty));
	CHECK(hm_detect_systemd(empty, V("/sbin/init", "3")));
	CHECK(hm_detect_systemd(V("/sbin/init"), V("--unit=rescue.target")));

	/* The entrypoint's first word wins when it is not empty. */
	CHECK(!hm_detect_systemd(V("/entrypoint.sh"), V("/sbin/init")));
	CHECK(!hm_detect_systemd(V("/bin/sh", "-c"), V("/lib/systemd/systemd")));
	CHECK(hm_detect_systemd(V("/sbin/init"), V("nginx")));
	/* A non-empty entrypoint whose first word is "" is still the first word. */
	CHECK(!hm_detect_systemd(V(""), V("/sbin/init")));

	/* Nothing else matches. */
	CHECK(!hm_detect_systemd(empty, V("/usr/sbin/init")));
	CHECK(!hm_detect_systemd(empty, V("./init")));
	CHECK(!hm_detect_systemd(empty, V("init")));
	CHECK(!hm_detect_systemd(empty, V("systemd")));
	CHECK(!hm_detect_systemd(empty, V("/bin/bash", "-c", "init")));
	CHECK(!hm_detect_systemd(empty, V("/bin/sh", "-c", "/sbin/init")));
	CHECK(!hm_detect_systemd(empty, V("nginx", "-g", "daemon off;")));
	CHECK(!hm_detect_systemd(V("python3"), V("/app/main.py", "--port", "8080")));
	CHECK(!hm_detect_systemd(empty, V("python", "/sbin/init")));
	CHECK(!hm_detect_systemd(empty, V("/sbin/init ")));
	CHECK(!hm_detect_systemd(empty, V(" /sbin/init")));
	CHECK(!hm_detect_systemd(empty, V("/sbin//init")));
	CHECK(!hm_detect_systemd(empty, V("/sbin/../sbin/init")));
	CHECK(!hm_detect_systemd(empty, V("/SBIN/INIT")));
	CHECK(!hm_detect_systemd(empty, V("/lib/systemd/systemd-journald")));
	CHECK(!hm_detect_systemd(empty, V("/usr/lib/systemd")));
	CHECK(!hm_detect_systemd(empty, V("")));
}

static void test_resolve(void)
{
	enum hm_mode m;

	m = HM_MODE_SYSTEMD;
	CHECK(hm_resolve_mode(NULL, empty, V("nginx"), &m) == 0 && m == HM_MODE_EXEC);
	m = HM_MODE_EXEC;
	CHECK(hm_resolve_mode(NULL, empty, V("/sbin/init"), &m) == 0 && m == HM_MODE_SYSTEMD);
	m = HM_MODE_EXEC;
	CHECK(hm_resolve_mode("", empty, V("/sbin/init"), &m) == 0 && m == HM_MODE_SYSTEMD);
	m = HM_MODE_EXEC;
	CHECK(hm_resolve_mode("auto", V("/lib/systemd/systemd"), empty, &m) == 0 && m == HM_MODE_SYSTEMD);
	m = HM_MODE_SYSTEMD;
	CHECK(hm_resolve_mode("auto", empty, empty, &m) == 0 && m == HM_MODE_EXEC);

	/* An explicit mode beats detection both ways. */
	m = HM_MODE_SYSTEMD;
	CHECK(hm_resolve_mode("exec", empty, V("/sbin/init"), &m) == 0 && m == HM_MODE_EXEC);
	m = HM_MODE_EXEC;
	CHECK(hm_resolve_mode("systemd", empty, V("nginx"), &m) == 0 && m == HM_MODE_SYSTEMD);
	m = HM_MODE_EXEC;
	CHECK(hm_resolve_mode("systemd", empty, empty, &m) == 0 && m == HM_MODE_SYSTEMD);

	/* Anything else is an error and leaves *mode alone. */
	m = HM_MODE_SYSTEMD;
	CHECK(hm_resolve_mode("Exec", empty, empty, &m) == -1 && m == HM_MODE_SYSTEMD);
	CHECK(hm_resolve_mode("AUTO", empty, empty, &m) == -1);
	CHECK(hm_resolve_mode("exec ", empty, empty, &m) == -1);
	CHECK(hm_resolve_mode("sysvinit", empty, empty, &m) == -1);
	CHECK(hm_resolve_mode(" ", empty, empty, &m) == -1);

	CHECK_STR(hm_mode_name(HM_MODE_EXEC), "exec");
	CHECK_STR(hm_mode_name(HM_MODE_SYSTEMD), "systemd");
}

int main(void)
{
	CHECK_CASE(test_detect());
	CHECK_CASE(test_resolve());
	return check_done();
}
