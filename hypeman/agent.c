/*
 * Phase 6 (agent): copy the initrd's guest agent into the image at
 * /opt/hypeman/guest-agent, mode 0755, always overwritten, through
 * confine.c (the image may have made /opt a symlink to anywhere).
 */
//kbuild:obj-$(CONFIG_HYPEMAN_INIT) += agent.o

#include "libbb.h"
#include "hypeman.h"
#include "confine.h"

static int copy_agent(struct hm_boot *b, int *replaced)
{
	int fd, rc;

	fd = open(HM_AGENT_SRC, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		hm_log_errno(HM_ERROR, "agent", errno, "no guest agent in the initrd at %s", HM_AGENT_SRC);
		return -1;
	}
	rc = hm_copy_fd_in_root(b->newroot_fd, HM_AGENT_DST, fd, 0755, replaced);
	if (rc != 0)
		hm_log_errno(HM_ERROR, "agent", errno, "cannot install %s in the image", HM_AGENT_DST);
	close(fd);
	return rc;
}

void FAST_FUNC hm_install_agent(struct hm_boot *b)
{
	int replaced = 0;

	hm_phase_begin("agent");
	if (b->cfg.skip_guest_agent)
		hm_phase_end("agent", "skip_guest_agent: not installing the guest agent");
	else if (copy_agent(b, &replaced) == 0)
		hm_phase_end("agent", "installed %s%s", HM_AGENT_DST,
			replaced ? " (replaced a symlink or special file there)" : "");
	else
		hm_phase_end("agent", "guest agent not installed");
}
