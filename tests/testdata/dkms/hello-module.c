/* A kernel module the DKMS test builds in the guest against the headers. */
#include <linux/module.h>
static int __init hello_init(void)
{
	pr_info("hello from a module built in a hypeman VM\n");
	return 0;
}
static void __exit hello_exit(void)
{
}
module_init(hello_init);
module_exit(hello_exit);
MODULE_LICENSE("GPL");
