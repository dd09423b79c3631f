/*
 * Devices: waiting for them, what they are. Drivers may probe
 * asynchronously after their module loads (virtio_blk's disks appear in
 * devtmpfs, virtio_net's interface in sysfs), so init polls in short
 * steps with a bound instead of sleeping a fixed time. The modaliases of
 * the devices present and the filesystem on a disk tell the modules phase
 * what to load.
 */
//kbuild:obj-$(CONFIG_HYPEMAN_INIT) += devices.o

#include "libbb.h"
#include "hypeman.h"
#include "fstype.h"

#define STEP_MS 2

int FAST_FUNC hm_wait_for(const char *phase, const char *what, const char *path, mode_t type)
{
	unsigned long long deadline = hm_uptime_ms() + HM_DEVICE_TIMEOUT_MS;
	struct stat st;

	for (;;) {
		if (stat(path, &st) == 0 && (st.st_mode & S_IFMT) == type)
			return 0;
		if (hm_uptime_ms() >= deadline) {
			hm_log(HM_ERROR, phase, "%s %s did not appear within %u ms",
				what, path, HM_DEVICE_TIMEOUT_MS);
			return -1;
		}
		/* A poll step, not a synchronisation sleep: there is no
		 * event to wait on without udev or netlink. */
		poll(NULL, 0, STEP_MS);
	}
}

/* BUS/DEV's modalias, which never changes once read. */
struct hm_dev {
	char *key;              /* "BUS/DEV" */
	char *modalias;
};

/* DEV's modalias in bus directory DFD (malloc'ed), or NULL: many devices
 * have none, and one just added may not have it yet. */
static char *read_modalias(int dfd, const char *dev)
{
	char path[NAME_MAX + 16], buf[1024];
	ssize_t len;
	int fd;

	snprintf(path, sizeof(path), "%s/modalias", dev);
	fd = openat(dfd, path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	len = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (len <= 1)
		return NULL;
	buf[len - (buf[len - 1] == '\n')] = '\0';
	return xstrdup(buf);
}

/* KEY's modalias read by an earlier round, or NULL. Searched from after
 * the last hit: each round lists the devices in the same order. */
static const char *cached(struct hm_devscan *s, const char *key)
{
	int k, i;

	for (k = 0; k < s->n; k++) {
		i = (s->hint + k) % s->n;
		if (strcmp(s->dev[i].key, key) == 0) {
			s->hint = i + 1;
			return s->dev[i].modalias;
		}
	}
	return NULL;
}

/* Appends the modalias of each device of BUS (DFD: its devices
 * directory) to *V, which holds N; the new count. */
static int bus_modaliases(struct hm_devscan *s, const char *bus, int dfd, char ***v, int n)
{
	DIR *d = fdopendir(dfd);
	struct dirent *e;
	char key[PATH_MAX];
	const char *alias;

	if (!d) {
		close(dfd);
		return n;
	}
	while ((e = readdir(d)) != NULL) {
		if (DOT_OR_DOTDOT(e->d_name))
			continue;
		snprintf(key, sizeof(key), "%s/%s", bus, e->d_name);
		alias = cached(s, key);
		if (!alias) {
			char *m = read_modalias(dfd, e->d_name);
			if (!m)
				continue;   /* none (yet): looked at again next round */
			s->dev = xrealloc_vector(s->dev, 5, s->n);
			s->dev[s->n].key = xstrdup(key);
			s->dev[s->n++].modalias = m;
			alias = m;
		}
		*v = xrealloc_vector(*v, 5, n);
		(*v)[n++] = (char *)alias;
	}
	closedir(d);
	return n;
}

/* Appends the modaliases of bus NAME's devices (SYSBUS: the fd of
 * /sys/bus) to *V, which holds *N. A bus not there yet (its module is
 * not loaded: virtio) has no devices. */
static void add_bus(struct hm_devscan *s, int sysbus, const char *name, char ***v, int *n)
{
	char path[NAME_MAX + 16];
	int dfd;

	snprintf(path, sizeof(path), "%s/devices", name);
	dfd = openat(sysbus, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0)
		*n = bus_modaliases(s, name, dfd, v, *n);
}

/* Modalias prefixes that are not a bus: device-tree devices sit on the
 * platform and amba buses, ACPI-enumerated ones on platform, with the
 * same "acpi:HID:CID:" modalias. The acpi bus itself is not read: it lists
 * every node of the ACPI namespace (PCI interrupt links, buttons, the
 * CPU, most without any driver), which only an acpi_driver module binds
 * (buttons, batteries), none of them a boot module. On QEMU's q35 those
 * nodes were 39 of the 54 sysfs files coldplug's first round opened. */
static const char *const other_buses[][3] = {
	{ "of", "platform", "amba" },
	{ "acpi", "platform", NULL },
};

/* Adds NAME to BUSES (N of them, at most CAP) unless it is there. */
static void add_name(const char **buses, int *n, int cap, const char *name)
{
	int i;

	for (i = 0; i < *n; i++)
		if (strcmp(buses[i], name) == 0)
			return;
	if (*n < cap)
		buses[(*n)++] = name;
}

int FAST_FUNC hm_device_modaliases(struct hm_devscan *s, char *const *prefixes, int n_prefixes,
		char ***modaliases)
{
	/* each bus once: "of" and "acpi" both mean platform */
	const char *buses[2 * HM_MAX_BUSES];
	int sysbus, i, k, n_buses = 0, n = 0;

	for (i = 0; i < n_prefixes; i++) {
		for (k = 0; k < (int)ARRAY_SIZE(other_buses); k++)
			if (strcmp(prefixes[i], other_buses[k][0]) == 0)
				break;
		if (k == (int)ARRAY_SIZE(other_buses)) {
			add_name(buses, &n_buses, ARRAY_SIZE(buses), prefixes[i]);
			continue;
		}
		add_name(buses, &n_buses, ARRAY_SIZE(buses), other_buses[k][1]);
		if (other_buses[k][2])
			add_name(buses, &n_buses, ARRAY_SIZE(buses), other_buses[k][2]);
	}
	*modaliases = NULL;
	sysbus = open("/sys/bus", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (sysbus < 0)
		return -1;
	for (i = 0; i < n_buses; i++)
		add_bus(s, sysbus, buses[i], modaliases, &n);
	close(sysbus);
	return n;
}

void FAST_FUNC hm_devscan_free(struct hm_devscan *s)
{
	int i;

	for (i = 0; i < s->n; i++) {
		free(s->dev[i].key);
		free(s->dev[i].modalias);
	}
	free(s->dev);
	memset(s, 0, sizeof(*s));
}

const char* FAST_FUNC hm_disk_fstype(const char *dev, int *err)
{
	unsigned char buf[HM_FSTYPE_PROBE_BYTES];
	ssize_t n = -1;
	int fd = open(dev, O_RDONLY | O_CLOEXEC);

	if (fd >= 0) {
		n = pread(fd, buf, sizeof(buf), 0);
		*err = n < 0 ? errno : 0;
		close(fd);
	} else {
		*err = errno;
	}
	return n > 0 ? hm_fstype_probe(buf, n) : NULL;
}

/*
 * An x86 virtual machine powers off through ACPI only; without it
 * (Firecracker, QEMU's microvm with acpi=off) the kernel turns a power-off
 * into a halt and the VM would stay up forever. Such VMMs end the VM on a
 * reset instead (Firecracker exits on it, as QEMU does with -no-reboot).
 * arm64 powers off through PSCI, always there. Once sysfs is gone (late
 * in a shutdown) nothing is known: power-off, as asked.
 */
bool FAST_FUNC hm_machine_can_power_off(void)
{
#if defined(__x86_64__) || defined(__i386__)
	return access("/sys/kernel", F_OK) != 0 || access("/sys/firmware/acpi", F_OK) == 0;
#else
	return true;
#endif
}
