/*
 * Phase 5 (network), after the volumes so that a volume on /etc cannot
 * hide resolv.conf: lo up (one ioctl: every boot does it, a child would
 * cost a fork); with network_enabled, guest_ip/guest_cidr on eth0; eth0
 * up; default route via guest_gw; "nameserver guest_dns" in the image's
 * /etc/resolv.conf. busybox's ip does that netlink work, each command in
 * a child (spawn.c). Failures are ERRORs, never fatal.
 */
//kbuild:obj-$(CONFIG_HYPEMAN_INIT) += network.o

#include "libbb.h"
#include <arpa/inet.h>
#include <net/if.h>
#include "hypeman.h"

#define IFACE "eth0"

static int ip(const char *const *argv, const char *what)
{
	int rc = hm_run_applet("network", argv);

	if (rc != 0)
		hm_log(HM_ERROR, "network", "%s failed (ip exit status %d)", what, rc);
	return rc;
}

/* Addresses from the config go on ip's command line: accept dotted
 * IPv4 only, so nothing there can read as an option. */
static bool is_ipv4(const char *field, const char *s)
{
	struct in_addr a;

	if (s && inet_pton(AF_INET, s, &a) == 1)
		return true;
	hm_log(HM_ERROR, "network", "%s \"%s\" is not an IPv4 address", field, s ? s : "(absent)");
	return false;
}

/* The kernel gives lo 127.0.0.1/8 when it comes up, as with ip. */
static int lo_up(void)
{
	struct ifreq ifr;
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	int rc = -1;

	memset(&ifr, 0, sizeof(ifr));
	strcpy(ifr.ifr_name, "lo");
	if (fd >= 0 && ioctl(fd, SIOCGIFFLAGS, &ifr) == 0) {
		ifr.ifr_flags |= IFF_UP;
		rc = ioctl(fd, SIOCSIFFLAGS, &ifr);
	}
	if (rc != 0)
		hm_log_errno(HM_ERROR, "network", errno, "bringing lo up failed");
	if (fd >= 0)
		close(fd);
	return rc;
}

static void write_resolv_conf(struct hm_boot *b, const char *dns)
{
	char *text = xasprintf("nameserver %s\n", dns);

	hm_write_in_image(b, "network", "/etc/resolv.conf", text, strlen(text), 0644);
	free(text);
}

void FAST_FUNC hm_setup_network(struct hm_boot *b)
{
	static const char *const eth_up[] = { "ip", "link", "set", IFACE, "up", NULL };
	const struct hm_config *c = &b->cfg;
	char addr[64];
	int errors = 0;

	hm_phase_begin("network");
	errors += lo_up() != 0;
	if (!c->network_enabled) {
		hm_phase_end("network", "network_enabled is false: only lo, %s", errors ? "which failed" : "up");
		return;
	}
	/* virtio_net probes asynchronously: wait for the interface */
	if (hm_wait_for("network", "interface", "/sys/class/net/" IFACE, S_IFDIR) != 0) {
		hm_phase_end("network", "no %s: network not configured", IFACE);
		return;
	}
	if (is_ipv4("guest_ip", c->guest_ip)) {
		const char *const add[] = { "ip", "addr", "add", addr, "dev", IFACE, NULL };
		snprintf(addr, sizeof(addr), "%s/%d", c->guest_ip, c->guest_cidr >= 0 ? c->guest_cidr : 32);
		errors += ip(add, "adding the address") != 0;
	} else {
		errors++;
	}
	errors += ip(eth_up, IFACE " up") != 0;
	if (c->guest_gw) {
		if (is_ipv4("guest_gw", c->guest_gw)) {
			const char *const route[] = { "ip", "route", "add", "default", "via", c->guest_gw, "dev", IFACE, NULL };
			errors += ip(route, "adding the default route") != 0;
		} else {
			errors++;
		}
	}
	if (c->guest_dns) {
		if (is_ipv4("guest_dns", c->guest_dns))
			write_resolv_conf(b, c->guest_dns);
		else
			errors++;
	}
	hm_phase_end("network", "%s %s/%d via %s, dns %s (%d errors)", IFACE,
		c->guest_ip ? c->guest_ip : "-", c->guest_cidr, c->guest_gw ? c->guest_gw : "-",
		c->guest_dns ? c->guest_dns : "-", errors);
}
