/*
 * Phase 5 (egress-ca), after network: the egress proxy's CA (config
 * egress_proxy: enabled + ca_cert_pem) trusted in the image, so that TLS
 * through the proxy verifies (contract: Egress proxy CA).
 *
 * Before the switch the PEM goes where update-ca-certificates looks
 * (Debian, Ubuntu, Alpine). An image that has update-ca-certificates gets
 * it run after the switch, bounded in time, its output on the console:
 * the /etc/ssl/certs hash links and its hooks (Java's keystore...) then
 * know the CA. An image without it gets the PEM appended to the bundles
 * that exist. Every write is confined to the new root.
 *
 * The program needs that trust, so any failure (not a PEM, a write,
 * update-ca-certificates failing or hanging) ends the boot before it, as
 * today's hypeman does: HYPEMAN-EXIT code=78 and the shutdown path.
 */
//kbuild:obj-$(CONFIG_HYPEMAN_INIT) += egress_ca.o

#include "libbb.h"
#include "hypeman.h"
#include "confine.h"
#include "pem.h"

#define PHASE "egress-ca"
#define CA_FILE "/usr/local/share/ca-certificates/hypeman-egress-proxy.crt"
#define BUNDLE_MAX (16 * 1024 * 1024)
/* EX_CONFIG of sysexits.h, as today's hypeman ends such a boot */
#define EXIT_CA_FAILED 78

static const char *const bundles[] = {
	"/etc/ssl/certs/ca-certificates.crt",   /* Debian, Ubuntu, Alpine */
	"/etc/pki/tls/certs/ca-bundle.crt",     /* Fedora, RHEL */
	"/etc/ssl/ca-bundle.pem",               /* openSUSE */
};

/* The image's update-ca-certificates, to run after the switch ("": none). */
static char update_tool[48];

/* The end of the boot: no program runs without the trust it needs. */
static void NORETURN fail(struct hm_boot *b, const char *fmt, ...)
{
	char why[PATH_MAX + 128], *msg;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	msg = xasprintf("egress proxy CA certificate setup failed: %s", why);
	hm_log(HM_ERROR, PHASE, "%s: not starting the program", msg);
	hm_exit_marker_out(EXIT_CA_FAILED, msg);
	hm_shutdown(b->cmdline.grace_s);
}

/* Appends PEM to the bundle at PATH when it exists and lacks it; 1 when
 * it did. */
static int add_to_bundle(struct hm_boot *b, const char *path, const char *pem)
{
	/* one byte over the limit tells an oversized bundle from a full one */
	size_t n = BUNDLE_MAX + 1;
	char *old, *joined;
	int fd, added = 0;

	fd = hm_openat_in_root(b->newroot_fd, path, O_RDONLY | O_NOFOLLOW, 0);
	if (fd < 0)
		return 0;  /* no such bundle in this image (or a symlink: leave it) */
	/* read at the file's size, not into a buffer of the limit's */
	old = xmalloc_read(fd, &n);
	close(fd);
	if (!old || n > BUNDLE_MAX)
		fail(b, "CA bundle %s unreadable or over %d bytes", path, BUNDLE_MAX);
	if (!strstr(old, pem)) {
		joined = xasprintf("%s%s%s", old, (n && old[n - 1] != '\n') ? "\n" : "", pem);
		if (hm_write_in_image(b, PHASE, path, joined, strlen(joined), 0644) != 0)
			fail(b, "cannot write %s: %s", path, strerror(errno));
		hm_debug(PHASE, "egress proxy CA added to %s", path);
		added = 1;
		free(joined);
	}
	free(old);
	return added;
}

/* The first update-ca-certificates on the default PATH, inside the image:
 * true when found (its path in update_tool). */
static bool find_update_tool(struct hm_boot *b)
{
	const char *dir = HM_DEFAULT_PATH, *end;

	for (; *dir; dir = *end ? end + 1 : end) {
		struct stat st;
		int fd;

		end = strchrnul(dir, ':');
		snprintf(update_tool, sizeof(update_tool), "%.*s/update-ca-certificates", (int)(end - dir), dir);
		fd = hm_openat_in_root(b->newroot_fd, update_tool, O_PATH, 0);
		if (fd >= 0 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & 0111)) {
			close(fd);
			return true;
		}
		if (fd >= 0)
			close(fd);
	}
	update_tool[0] = '\0';
	return false;
}

void FAST_FUNC hm_install_egress_ca(struct hm_boot *b)
{
	const char *pem = b->cfg.egress_ca_cert_pem, *why;
	char *text;
	unsigned i, bundles_added = 0;

	hm_phase_begin(PHASE);
	if (!b->cfg.egress_proxy_enabled || !pem || !pem[0]) {
		hm_phase_end(PHASE, "no egress proxy CA to install");
		return;
	}
	if (hm_pem_certificates(pem, &why) == 0)
		fail(b, "egress_proxy.ca_cert_pem is not a PEM certificate (%s)", why);
	text = xasprintf("%s%s", pem, last_char_is(pem, '\n') ? "" : "\n");
	if (hm_write_in_image(b, PHASE, CA_FILE, text, strlen(text), 0644) != 0)
		fail(b, "cannot write %s: %s", CA_FILE, strerror(errno));
	if (find_update_tool(b)) {
		hm_phase_end(PHASE, "egress proxy CA written to %s; the image's %s runs after the switch",
			CA_FILE, update_tool);
	} else {
		for (i = 0; i < ARRAY_SIZE(bundles); i++)
			bundles_added += add_to_bundle(b, bundles[i], text);
		hm_phase_end(PHASE, "egress proxy CA written to %s, added to %u bundles (the image has no update-ca-certificates)",
			CA_FILE, bundles_added);
	}
	free(text);
}

/* After the switch: the image's update-ca-certificates, when it has one
 * (its own process group: past the bound its hooks die with it). */
void FAST_FUNC hm_update_ca_certificates(struct hm_boot *b)
{
	char *const argv[] = { update_tool, NULL };
	unsigned long long start = hm_uptime_ms();
	unsigned bound_ms = b->cmdline.ca_timeout_s * 1000;
	int status;

	if (!update_tool[0])
		return;
	hm_phase_begin(PHASE);
	status = hm_run_in_image(b, PHASE, update_tool, argv, bound_ms);
	if (status < 0 && hm_uptime_ms() - start >= bound_ms)
		fail(b, "%s did not finish within %u s (hypeman.ca_timeout)", update_tool, b->cmdline.ca_timeout_s);
	if (status < 0)
		fail(b, "%s could not run or was killed", update_tool);
	if (status > 0)
		fail(b, "%s failed (exit code %d)", update_tool, status);
	hm_phase_end(PHASE, "ran the image's %s", update_tool);
}
