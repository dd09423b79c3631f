/*
 * Phase 8, systemd mode (contract: Systemd mode): inject
 * hypeman-agent.service and /etc/hypeman/env into the image, give systemd-shutdown a way back to us
 * (/run/initramfs/shutdown, systemd's initrd interface) so the disks end
 * clean, check the command exists, and exec it as PID 1 with the config
 * env, a clean signal state and only fds 0-2.
 */
//kbuild:obj-$(CONFIG_HYPEMAN_INIT) += systemd_mode.o

#include "libbb.h"
#include "hypeman.h"
#include "confine.h"
#include "envfile.h"
#include "interp.h"

#define UNIT_DIR   "/etc/systemd/system"
#define UNIT_NAME  "hypeman-agent.service"
#define ENV_FILE   "/etc/hypeman/env"

static const char unit_text[] =
	"[Unit]\n"
	"Description=Hypeman Guest Agent\n"
	"\n"
	"[Service]\n"
	"Type=simple\n"
	"ExecStart=" HM_AGENT_DST "\n"
	"EnvironmentFile=-" ENV_FILE "\n"
	"Restart=always\n"
	"RestartSec=3\n"
	"StandardOutput=journal\n"
	"StandardError=journal\n"
	"\n"
	"[Install]\n"
	"WantedBy=multi-user.target\n";

/* /etc/hypeman/env: the config env in EnvironmentFile syntax. Lines are
 * made first and joined once: a large env must not cost quadratic time. */
static char *env_file_text(const struct hm_config *cfg)
{
	char **lines = xzalloc((cfg->n_env + 1) * sizeof(lines[0]));
	size_t total = 1;
	char *text, *p;
	int i, n = 0;

	for (i = 0; i < cfg->n_env; i++) {
		const struct hm_env *e = &cfg->env[i];
		char *line = hm_envfile_line(e->key, e->value);

		if (!line)
			bb_die_memory_exhausted();
		if (!line[0]) {
			hm_log(HM_WARN, "systemd", "env: key \"%s\" cannot be written in EnvironmentFile syntax: left out of %s",
				e->key, ENV_FILE);
			free(line);
			continue;
		}
		total += strlen(line);
		lines[n++] = line;
	}
	text = p = xmalloc(total);
	*p = '\0';
	for (i = 0; i < n; i++) {
		p = stpcpy(p, lines[i]);
		free(lines[i]);
	}
	free(lines);
	return text;
}

static void inject_agent(struct hm_boot *b)
{
	char *env = env_file_text(&b->cfg);

	if (hm_write_in_image(b, "systemd", ENV_FILE, env, strlen(env), 0600) == 0
	 && hm_write_in_image(b, "systemd", UNIT_DIR "/" UNIT_NAME, unit_text, sizeof(unit_text) - 1, 0644) == 0) {
		if (hm_symlink_in_root(b->newroot_fd, "../" UNIT_NAME,
				UNIT_DIR "/multi-user.target.wants/" UNIT_NAME) != 0)
			hm_log_errno(HM_ERROR, "systemd", errno, "cannot enable %s", UNIT_NAME);
		else
			hm_log(HM_INFO, "systemd", "injected and enabled %s", UNIT_NAME);
	}
	free(env);
}

/*
 * systemd-shutdown pivots into /run/initramfs and runs ./shutdown there
 * when it exists: that is this binary again, which unmounts what systemd
 * could not (the disks under the old root) and powers off.
 */
static void prepare_shutdown_root(struct hm_boot *b)
{
	static const char *const dirs[] = {
		"/run/initramfs/dev", "/run/initramfs/proc", "/run/initramfs/sys",
		"/run/initramfs/run", "/run/initramfs/oldroot",
	};
	unsigned i;
	int src;

	for (i = 0; i < ARRAY_SIZE(dirs); i++)
		if (hm_mkdir("systemd", dirs[i], 0755))
			return;
	src = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
	if (src < 0) {
		hm_log_errno(HM_WARN, "systemd", errno, "cannot open /proc/self/exe");
		return;
	}
	if (hm_copy_fd_in_root(b->newroot_fd, "/run/initramfs/shutdown", src, 0755, NULL) != 0)
		hm_log_errno(HM_WARN, "systemd", errno, "cannot install /run/initramfs/shutdown");
	close(src);
}

static void close_fds_from(int first)
{
	int fd;

	if (syscall(__NR_close_range, first, ~0U, 0) == 0)
		return;
	for (fd = first; fd < 4096; fd++)
		close(fd);
}

static bool executable_in_image(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISREG(st.st_mode) && access(path, X_OK) == 0;
}

void FAST_FUNC hm_run_systemd(struct hm_boot *b)
{
	static char *default_argv[] = { (char *)"/sbin/init", NULL };
	char **argv, **env, why[PATH_MAX + 80];
	int err;

	hm_phase_begin("systemd");
	argv = hm_build_argv(&b->cfg);
	if (!argv)
		bb_die_memory_exhausted();
	if (!argv[0])
		argv = default_argv;
	/* we are chrooted into the image: plain paths resolve inside it */
	if (argv[0][0] != '/' || !executable_in_image(argv[0]))
		hm_fatal(b, "systemd", "%s does not exist or is not an executable file in the image%s",
			argv[0], argv[0][0] != '/' ? " (systemd mode needs an absolute path)" : "");
	if (!b->cfg.skip_guest_agent)
		inject_agent(b);
	prepare_shutdown_root(b);
	env = hm_build_env(&b->cfg);
	if (!env)
		bb_die_memory_exhausted();

	hm_phase_end("systemd", "handing PID 1 to %s", argv[0]);
	/* Later requests are systemd's; one in the few syscalls before it
	 * sets up its handlers is dropped by the kernel (PID 1, SIG_DFL). */
	hm_stop_point(b, "before systemd started");
	close_fds_from(3);
	hm_reset_signals();
	hm_program_start_marker("systemd");
	execve(argv[0], argv, env);
	err = errno;
	/* ENOENT for a file checked above: name what is really missing */
	if (err == ENOENT && hm_explain_enoent(argv[0], why, sizeof(why)))
		hm_fatal(b, "systemd", "exec %s failed: %s: %s", argv[0], strerror(err), why);
	hm_fatal(b, "systemd", "exec %s failed: %s", argv[0], strerror(err));
}
