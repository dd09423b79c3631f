/*
 * Phase 6 (agent): copy the initrd's guest agent into the image at
 * /opt/hypeman/guest-agent, mode 0755, always overwritten, through
 * confine.c (the image may have made /opt a symlink to anywhere). An
 * initrd built without one (build.sh without --agent) says so once: the
 * boot then neither starts nor injects an agent.
 */
//kbuild:obj-$(CONFIG_HYPEMAN_INIT) += agent.o

#include "libbb.h"
#include "hypeman.h"
#include "confine.h"

void FAST_FUNC hm_install_agent(struct hm_boot *b)
{
	int fd, rc = -1, replaced = 0;

	hm_phase_begin("agent");
	if (b->cfg.skip_guest_agent) {
		hm_phase_end("agent", "skip_guest_agent: not installing the guest agent");
		return;
	}
	fd = open(HM_AGENT_SRC, O_RDONLY | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT) {
		b->no_agent = true;
		hm_phase_end("agent", "this initrd has no guest agent (%s): none installed or started", HM_AGENT_SRC);
		return;
	}
	if (fd < 0)
		hm_log_errno(HM_ERROR, "agent", errno, "cannot open the initrd's guest agent %s", HM_AGENT_SRC);
	else if ((rc = hm_copy_fd_in_root(b->newroot_fd, HM_AGENT_DST, fd, 0755, &replaced)) != 0)
		hm_log_errno(HM_ERROR, "agent", errno, "cannot install %s in the image", HM_AGENT_DST);
	if (fd >= 0)
		close(fd);
	hm_phase_end("agent", "%s %s%s", rc == 0 ? "installed" : "not installed", HM_AGENT_DST,
		replaced ? " (replaced a symlink or special file there)" : "");
}
