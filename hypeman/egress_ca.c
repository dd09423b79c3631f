/*
 * Phase 5 (egress-ca), after network: the egress proxy's CA (config
 * egress_proxy: enabled + ca_cert_pem) trusted in the image, so that TLS
 * through the proxy verifies. The PEM goes where update-ca-certificates
 * looks (Debian, Ubuntu, Alpine) and is appended to the bundles that
 * already exist, so it works without running anything in the image. All
 * writes are confined to the new root.
 */
//kbuild:obj-$(CONFIG_HYPEMAN_INIT) += egress_ca.o

#include "libbb.h"
#include "hypeman.h"
#include "confine.h"

#define PHASE "egress-ca"
#define CA_FILE "/usr/local/share/ca-certificates/hypeman-egress-proxy.crt"
#define BUNDLE_MAX (16 * 1024 * 1024)

static const char *const bundles[] = {
	"/etc/ssl/certs/ca-certificates.crt",   /* Debian, Ubuntu, Alpine */
	"/etc/pki/tls/certs/ca-bundle.crt",     /* Fedora, RHEL */
	"/etc/ssl/ca-bundle.pem",               /* openSUSE */
};

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
	if (!old || n > BUNDLE_MAX) {
		hm_log(HM_WARN, PHASE, "CA bundle %s unreadable or over %d bytes: not extended", path, BUNDLE_MAX);
	} else if (!strstr(old, pem)) {
		joined = xasprintf("%s%s%s", old, (n && old[n - 1] != '\n') ? "\n" : "", pem);
		if (hm_write_in_image(b, PHASE, path, joined, strlen(joined), 0644) == 0) {
			hm_debug(PHASE, "egress proxy CA added to %s", path);
			added = 1;
		}
		free(joined);
	}
	free(old);
	return added;
}

void FAST_FUNC hm_install_egress_ca(struct hm_boot *b)
{
	const char *pem = b->cfg.egress_ca_cert_pem;
	char *text;
	unsigned i, bundles_added = 0;
	int written;

	hm_phase_begin(PHASE);
	if (!b->cfg.egress_proxy_enabled || !pem || !pem[0]) {
		hm_phase_end(PHASE, "no egress proxy CA to install");
		return;
	}
	if (!strstr(pem, "-----BEGIN CERTIFICATE-----")) {
		hm_log(HM_ERROR, PHASE, "egress_proxy.ca_cert_pem is not a PEM certificate: not installed");
		hm_phase_end(PHASE, "egress proxy CA not installed");
		return;
	}
	text = xasprintf("%s%s", pem, last_char_is(pem, '\n') ? "" : "\n");
	written = hm_write_in_image(b, PHASE, CA_FILE, text, strlen(text), 0644) == 0;
	for (i = 0; i < ARRAY_SIZE(bundles); i++)
		bundles_added += add_to_bundle(b, bundles[i], text);
	free(text);
	hm_phase_end(PHASE, "egress proxy CA %s %s, added to %u bundles",
		written ? "written to" : "not written to", CA_FILE, bundles_added);
}
