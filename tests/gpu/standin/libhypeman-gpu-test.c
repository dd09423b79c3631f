/* The stand-in bundle's userspace library (tests only): a program in the
 * image loads it by soname, libhypeman-gpu-test.so.1, with dlopen. */
const char *hypeman_gpu_test_version(void);

const char *hypeman_gpu_test_version(void)
{
	return HM_NV_VERSION;
}
