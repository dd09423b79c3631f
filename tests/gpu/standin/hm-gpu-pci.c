// SPDX-License-Identifier: GPL-2.0
/*
 * Test stand-in for an NVIDIA GPU on the VM's PCI bus (tests only;
 * x86_64). A PCI driver for QEMU's pci-testdev (1b36:0005): when the VM
 * has one, it adds a software PCI host bridge (domain 0x10de; Intel's vmd
 * driver makes its own buses the same way) with one device whose config
 * space says NVIDIA (vendor 0x10de), H100 (device 0x2330), 3D controller
 * (class 0x030200), with no BAR and no interrupt. hypeman-init's PCI
 * check finds it in /sys/bus/pci/devices as it finds a GPU passed
 * through with vfio-pci; a real nvidia.ko probes it and gives up (no
 * BAR 0). A VM without pci-testdev has no such device: init loads this
 * module only for a present device (its modalias), like any driver.
 */
#include <linux/module.h>
#include <linux/pci.h>

#define DOMAIN 0x10de

static u8 config[256] = {
	[PCI_VENDOR_ID] = 0xde, [PCI_VENDOR_ID + 1] = 0x10,
	[PCI_DEVICE_ID] = 0x30, [PCI_DEVICE_ID + 1] = 0x23,
	[PCI_REVISION_ID] = 0xa1,
	[PCI_CLASS_DEVICE] = 0x02, [PCI_CLASS_DEVICE + 1] = 0x03,
	[PCI_SUBSYSTEM_VENDOR_ID] = 0xde, [PCI_SUBSYSTEM_VENDOR_ID + 1] = 0x10,
	[PCI_SUBSYSTEM_ID] = 0xc1, [PCI_SUBSYSTEM_ID + 1] = 0x16,
};
static struct pci_sysdata sysdata = { .domain = DOMAIN, .node = NUMA_NO_NODE };
static struct resource busn = DEFINE_RES_NAMED(0, 1, "hm-gpu-pci buses", IORESOURCE_BUS);
static struct pci_bus *bus;

static int cfg_read(struct pci_bus *b, unsigned int devfn, int where, int size, u32 *val)
{
	u32 v = 0;
	int i;

	if (b->number != 0 || devfn != 0 || where < 0 || where + size > (int)sizeof(config)) {
		*val = ~0U;
		return PCIBIOS_DEVICE_NOT_FOUND;
	}
	for (i = size - 1; i >= 0; i--)
		v = v << 8 | config[where + i];
	*val = v;
	return PCIBIOS_SUCCESSFUL;
}

/* Read-only: a BAR written with all ones reads back 0, so it has no size. */
static int cfg_write(struct pci_bus *b, unsigned int devfn, int where, int size, u32 val)
{
	return PCIBIOS_SUCCESSFUL;
}

static struct pci_ops ops = { .read = cfg_read, .write = cfg_write };

static int hm_gpu_pci_probe(struct pci_dev *pdev, const struct pci_device_id *id)
{
	LIST_HEAD(resources);

	if (bus)
		return -EBUSY;
	pci_add_resource(&resources, &busn);
	bus = pci_create_root_bus(&pdev->dev, 0, &ops, &sysdata, &resources);
	if (!bus) {
		pci_free_resource_list(&resources);
		return -ENODEV;
	}
	pci_scan_child_bus(bus);
	pci_bus_add_devices(bus);
	dev_info(&pdev->dev, "hm-gpu-pci: stand-in NVIDIA device at %04x:00:00.0\n", DOMAIN);
	return 0;
}

static void hm_gpu_pci_remove(struct pci_dev *pdev)
{
	pci_stop_root_bus(bus);
	pci_remove_root_bus(bus);
	bus = NULL;
}

static const struct pci_device_id ids[] = {
	{ PCI_DEVICE(0x1b36, 0x0005) },	/* QEMU's pci-testdev */
	{ }
};
MODULE_DEVICE_TABLE(pci, ids);

static struct pci_driver hm_gpu_pci_driver = {
	.name = "hm-gpu-pci",
	.id_table = ids,
	.probe = hm_gpu_pci_probe,
	.remove = hm_gpu_pci_remove,
};
module_pci_driver(hm_gpu_pci_driver);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("hypeman-init test stand-in: an NVIDIA PCI device on a software host bridge");
