// needs: hypeman/env.c contract/config.c contract/json.c
/*
 * Unit tests for hypeman/env.c: argv and environment of the program from a
 * parsed config, the PATH lookup (real execve in children, real files),
 * and the signal state a child gets.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include "check.h"
#include "env.h"

static struct hm_config cfg_of(const char *json)
{
	struct hm_config cfg;
	char err[256];

	if (!CHECKF(hm_config_parse(json, strlen(json), &cfg, err, sizeof(err)) == 0, "%s", err))
		memset(&cfg, 0, sizeof(cfg));
	return cfg;
}

/* V joined with '|', for one comparison per case. */
static const char *joined(char **v)
{
	static char buf[1024];
	size_t n = 0;

	buf[0] = '\0';
	for (; v && *v; v++)
		n += snprintf(buf + n, sizeof(buf) - n, "%s%s", n ? "|" : "", *v);
	return buf;
}

/* BUILD's vector for the config JSON, joined, against WANT; STRINGS: the
 * vector owns its strings (hm_build_env) or points into the config. */
static void check_vec(int line, const char *json, char **(*build)(const struct hm_config *),
		int strings, const char *want)
{
	struct hm_config cfg = cfg_of(json);
	char **v = build(&cfg);

	check_at(__FILE__, line, v != NULL, "%s returned NULL", strings ? "hm_build_env" : "hm_build_argv");
	check_str_at(__FILE__, line, joined(v), want, json);
	if (strings)
		hm_free_strv(v);
	else
		free(v);
	hm_config_free(&cfg);
}
#define ARGV(json, want) check_vec(__LINE__, json, hm_build_argv, 0, want)
#define ENV(json, want) check_vec(__LINE__, json, hm_build_env, 1, want)

#define DEFAULTS "PATH=" HM_DEFAULT_PATH "|HOME=/root"

static void test_argv(void)
{
	ARGV("{}", "");
	ARGV("{\"cmd\":[\"/bin/sh\",\"-c\",\"echo hi\"]}", "/bin/sh|-c|echo hi");
	ARGV("{\"entrypoint\":[\"/init\"]}", "/init");
	ARGV("{\"entrypoint\":[\"/tini\",\"--\"],\"cmd\":[\"app\",\"x y\"]}", "/tini|--|app|x y");
	ARGV("{\"entrypoint\":[],\"cmd\":null}", "");
}

static void test_env(void)
{
	ENV("{}", DEFAULTS);
	ENV("{\"env\":{\"A\":\"1\",\"B\":\"\"}}", "A=1|B=|" DEFAULTS);
	/* config order; a repeated key is the last one, at its last place */
	ENV("{\"env\":{\"Z\":\"1\",\"A\":\"2\",\"Z\":\"3\"}}", "A=2|Z=3|" DEFAULTS);
	/* PATH and HOME from the config win, even empty */
	ENV("{\"env\":{\"PATH\":\"/opt/bin\",\"X\":\"=\"}}", "PATH=/opt/bin|X==|HOME=/root");
	ENV("{\"env\":{\"HOME\":\"\"}}", "HOME=|PATH=" HM_DEFAULT_PATH);
	/* names that only start like PATH or HOME do not count */
	ENV("{\"env\":{\"PATHX\":\"1\",\"HOMEDIR\":\"/h\"}}", "PATHX=1|HOMEDIR=/h|" DEFAULTS);
}

static void test_env_get(void)
{
	char *env[] = { (char *)"PATHX=no", (char *)"PATH=/a:/b", (char *)"E=", (char *)"X=y=z", NULL };
	char *none[] = { NULL };

	CHECK_STR(hm_env_get(env, "PATH"), "/a:/b");
	CHECK_STR(hm_env_get(env, "E"), "");
	CHECK_STR(hm_env_get(env, "X"), "y=z");
	CHECK(hm_env_get(env, "PAT") == NULL);
	CHECK(hm_env_get(env, "HOME") == NULL);
	CHECK(hm_env_get(none, "PATH") == NULL);
}

/* ---- PATH lookup: real files, execve in a child ---- */

static char dir[64];

static void put_file(const char *name, const char *text, mode_t mode)
{
	char path[256];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);
	if (!CHECKF(fd >= 0, "cannot create %s", path))
		return;
	CHECK(write(fd, text, strlen(text)) == (ssize_t)strlen(text));
	close(fd);
	chmod(path, mode);
}

/* hm_execvpe(NAME, PATH=path_var) in a child whose cwd is CWD: its exit
 * status, or 200 + errno when hm_execvpe returned (then FOUND, when not
 * NULL, gets what hm_execvpe reported through a pipe). */
static int run_child_found(const char *name, const char *path_var, const char *cwd,
		char *found, size_t len)
{
	char *argv[] = { (char *)name, NULL };
	char *env[] = { (char *)path_var, NULL };
	int st = -1, p[2];
	pid_t pid;

	if (pipe(p) != 0)
		return -1;
	pid = fork();
	if (pid == 0) {
		char got[256];

		close(p[0]);
		if (cwd && chdir(cwd) != 0)
			_exit(199);
		hm_execvpe(argv, path_var ? env : env + 1, got, sizeof(got));
		st = errno;
		if (write(p[1], got, strlen(got)) < 0)
			_exit(198);
		_exit(200 + (st < 55 ? st : 55));
	}
	close(p[1]);
	if (found) {
		ssize_t n = read(p[0], found, len - 1);
		found[n > 0 ? n : 0] = '\0';
	}
	close(p[0]);
	waitpid(pid, &st, 0);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static int run_child(const char *name, const char *path_var, const char *cwd)
{
	return run_child_found(name, path_var, cwd, NULL, 0);
}

static void test_execvpe(void)
{
	char path[512];

	snprintf(dir, sizeof(dir), "%s/hm-env.XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	if (!CHECKF(mkdtemp(dir) != NULL, "mkdtemp %s", dir))
		return;
	if (mkdir(strcat(strcpy(path, dir), "/a"), 0755) || mkdir(strcat(strcpy(path, dir), "/b"), 0755))
		CHECKF(0, "mkdir under %s", dir);
	put_file("a/prog", "#!/bin/sh\nexit 41\n", 0644);	/* not executable */
	put_file("b/prog", "#!/bin/sh\nexit 42\n", 0755);
	put_file("b/only-text", "#!/bin/sh\nexit 43\n", 0644);
	put_file("here", "#!/bin/sh\nexit 44\n", 0755);

	/* the first executable candidate in the program's PATH runs */
	snprintf(path, sizeof(path), "PATH=/nonexistent:%s/a:%s/b", dir, dir);
	CHECK_INT(run_child("prog", path, NULL), 42);
	/* only non-executable candidates: EACCES; none at all: ENOENT */
	CHECK_INT(run_child("only-text", path, NULL), 200 + EACCES);
	CHECK_INT(run_child("missing", path, NULL), 200 + ENOENT);
	/* an empty element is the current directory, wherever it stands */
	snprintf(path, sizeof(path), "PATH=%s/a:", dir);
	CHECK_INT(run_child("here", path, dir), 44);
	CHECK_INT(run_child("here", "PATH=::/nonexistent", dir), 44);
	CHECK_INT(run_child("here", "PATH=/nonexistent", dir), 200 + ENOENT);
	/* a candidate that exists but whose #! interpreter does not: ENOENT,
	 * and hm_execvpe names it (the first such one) */
	put_file("b/noint", "#!/nonexistent/interpreter\n", 0755);
	put_file("a/noint", "#!/nonexistent/other\n", 0755);
	snprintf(path, sizeof(path), "PATH=/nonexistent:%s/a:%s/b", dir, dir);
	{
		char found[256], want[512];

		CHECK_INT(run_child_found("noint", path, NULL, found, sizeof(found)), 200 + ENOENT);
		snprintf(want, sizeof(want), "%s/a/noint", dir);
		CHECK_STR(found, want);
		CHECK_INT(run_child_found("missing", path, NULL, found, sizeof(found)), 200 + ENOENT);
		CHECK_STR(found, "");
	}
	/* a name with '/' is not looked up */
	CHECK_INT(run_child("./here", "PATH=/nonexistent", dir), 44);
	CHECK_INT(run_child("b/prog", "PATH=/nonexistent", dir), 42);
	/* no PATH in the program's env: the default one, which has sh */
	CHECK_INT(run_child("sh", NULL, NULL), 0);

	unlink(strcat(strcpy(path, dir), "/a/prog"));
	unlink(strcat(strcpy(path, dir), "/b/prog"));
	unlink(strcat(strcpy(path, dir), "/b/only-text"));
	unlink(strcat(strcpy(path, dir), "/here"));
	unlink(strcat(strcpy(path, dir), "/a/noint"));
	unlink(strcat(strcpy(path, dir), "/b/noint"));
	rmdir(strcat(strcpy(path, dir), "/a"));
	rmdir(strcat(strcpy(path, dir), "/b"));
	CHECKF(rmdir(dir) == 0, "rmdir %s: something was left in it", dir);
}

/* ---- signals ---- */

/*
 * In a child (the sanitizers keep handlers of their own here): what PID 1
 * leaves behind, reset. Bit 0: a signal still blocked; 1: SIGPIPE, 2:
 * SIGHUP not back to the default.
 */
static int reset_in_child(void)
{
	int st = -1;
	pid_t pid = fork();

	if (pid == 0) {
		sigset_t set, mask;
		struct sigaction pipe_sa, hup_sa;
		int sig, bits = 0;

		hm_pid1_sigset(&set);
		sigprocmask(SIG_BLOCK, &set, NULL);
		signal(SIGPIPE, SIG_IGN);
		signal(SIGHUP, SIG_IGN);
		hm_reset_signals();
		sigprocmask(SIG_SETMASK, NULL, &mask);
		for (sig = 1; sig < NSIG; sig++)
			if (sigismember(&mask, sig) == 1)
				bits |= 1;
		sigaction(SIGPIPE, NULL, &pipe_sa);
		sigaction(SIGHUP, NULL, &hup_sa);
		bits |= (pipe_sa.sa_handler != SIG_DFL) << 1;
		bits |= (hup_sa.sa_handler != SIG_DFL) << 2;
		_exit(bits);
	}
	waitpid(pid, &st, 0);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void test_signals(void)
{
	static const int pid1[] = {
		SIGCHLD, SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH,
	};
	sigset_t set;
	unsigned i;
	int sig, n = 0;

	hm_pid1_sigset(&set);
	for (i = 0; i < sizeof(pid1) / sizeof(pid1[0]); i++)
		CHECKF(sigismember(&set, pid1[i]) == 1, "signal %d not in PID 1's set", pid1[i]);
	for (sig = 1; sig < NSIG; sig++)
		n += sigismember(&set, sig) == 1;
	CHECK_INT(n, 8);
	CHECK_INT(reset_in_child(), 0);
}

int main(void)
{
	CHECK_CASE(test_argv());
	CHECK_CASE(test_env());
	CHECK_CASE(test_env_get());
	CHECK_CASE(test_execvpe());
	CHECK_CASE(test_signals());
	return check_done();
}
