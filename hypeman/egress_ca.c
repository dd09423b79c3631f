/*
 * The egress proxy's CA (config egress_proxy: enabled + ca_cert_pem):
 * trusted in the image, so that TLS through the proxy verifies. The PEM
 * goes where update-ca-certificates looks (Debian, Ubuntu, Alpine) and is
 * appended to the bundles that already exist, so it works without running
 * anything in the image. All writes are confined to the new root.
 */
//kbuild:obj-$(CONFIG_HYPEMAN_INIT) += egress_ca.o

#include "libbb.h"
#include "hypeman.h"
#include "confine.h"

#define CA_FILE "/usr/local/share/ca-certificates/hypeman-egress-proxy.crt"
#define BUNDLE_MAX (16 * 1024 * 1024)

static const char *const bundles[] = {
	"/etc/ssl/certs/ca-certificates.crt",   /* Debian, Ubuntu, Alpine */
	"/etc/pki/tls/certs/ca-bundle.crt",     /* Fedora, RHEL */
	"/etc/ssl/ca-bundle.pem",               /* openSUSE */
};

/* Appends PEM to the bundle at PATH when it exists and lacks it. */
static void add_to_bundle(struct hm_boot *b, const char *path, const char *pem)
{
	/* one byte over the limit tells an oversized bundle from a full one */
	size_t n = BUNDLE_MAX + 1;
	char *old, *joined;
	int fd;

	fd = hm_openat_in_root(b->newroot_fd, path, O_RDONLY | O_NOFOLLOW, 0);
	if (fd < 0)
		return;  /* no such bundle in this image (or a symlink: leave it) */
	/* read at the file's size, not into a buffer of the limit's */
	old = xmalloc_read(fd, &n);
	close(fd);
	if (!old || n > BUNDLE_MAX) {
		hm_log(HM_WARN, "network", "CA bundle %s unreadable or over %d bytes: not extended", path, BUNDLE_MAX);
	} else if (!strstr(old, pem)) {
		joined = xasprintf("%s%s%s", old, (n && old[n - 1] != '\n') ? "\n" : "", pem);
		if (hm_write_in_image(b, "network", path, joined, strlen(joined), 0644) == 0)
			hm_log(HM_INFO, "network", "egress proxy CA added to %s", path);
		free(joined);
	}
	free(old);
}

void FAST_FUNC hm_install_egress_ca(struct hm_boot *b)
{
	const char *pem = b->cfg.egress_ca_cert_pem;
	char *text;
	unsigned i;

	if (!b->cfg.egress_proxy_enabled || !pem || !pem[0])
		return;
	if (!strstr(pem, "-----BEGIN CERTIFICATE-----")) {
		hm_log(HM_ERROR, "network", "egress_proxy.ca_cert_pem is not a PEM certificate: not installed");
		return;
	}
	text = xasprintf("%s%s", pem, last_char_is(pem, '\n') ? "" : "\n");
	if (hm_write_in_image(b, "network", CA_FILE, text, strlen(text), 0644) == 0)
		hm_log(HM_INFO, "network", "egress proxy CA written to %s", CA_FILE);
	for (i = 0; i < ARRAY_SIZE(bundles); i++)
		add_to_bundle(b, bundles[i], text);
	free(text);
}
