#include <stdio.h>
#include <time.h>
#include <unistd.h>
int main(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_BOOTTIME, &ts);
	printf("AGENTPROBE boottime_ms=%lld ready_file=%s\n",
	       ts.tv_sec * 1000LL + ts.tv_nsec / 1000000,
	       access("/run/hypeman/guest-agent-ready", F_OK) == 0 ? "yes" : "no");
	return 0;
}
