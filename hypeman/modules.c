/*
 * Phase 2 (modules): load the modules the initrd lists (build-time list in
 * /etc/hypeman/modules), with their dependencies and softdeps resolved
 * from the initrd's modules.dep, modules.softdep, modules.alias and
 * modules.builtin (moddep.c). One finit_module(2) per module, in-process:
 * no fork, no modprobe.
 */
//kbuild:obj-$(CONFIG_HYPEMAN_INIT) += modules.o

#include "libbb.h"
#include "../../modutils/modutils.h"
#include "hypeman.h"
#include "moddep.h"

static char *read_index(const char *dir, const char *name)
{
	char *path = concat_path_file(dir, name);
	char *text = xmalloc_open_read_close(path, NULL);

	free(path);
	return text;
}

/* The initrd's module indexes for the running kernel, resolved into PLAN.
 * -1 after an ERROR. */
static int plan_loads(const char *dir, char *list, struct hm_modplan *plan)
{
	char *dep, *softdep, *alias, *builtin;
	char **wanted = NULL;
	int n_wanted, rc = -1;

	dep = read_index(dir, "modules.dep");
	if (!dep) {
		hm_log(HM_ERROR, "modules", "no %s/modules.dep: the initrd's modules are not for this kernel",
			dir);
		return -1;
	}
	softdep = read_index(dir, "modules.softdep");
	alias = read_index(dir, "modules.alias");
	builtin = read_index(dir, "modules.builtin");
	n_wanted = hm_modlist_parse(list, &wanted);
	if (n_wanted >= 0)
		rc = hm_modplan_build(dep, softdep, alias, builtin, wanted, n_wanted, plan);
	if (rc != 0) {
		/* ENOMEM, or ELOOP for an absurdly deep chain */
		hm_log_errno(HM_ERROR, "modules", errno, "cannot resolve module dependencies");
		if (n_wanted >= 0)
			hm_modplan_free(plan);
	}
	free(wanted);
	free(dep);
	free(softdep);
	free(alias);
	free(builtin);
	return rc;
}

/* One finit_module per planned module; counts into *LOADED and *FAILED. */
static void load_plan(const char *dir, const struct hm_modplan *plan, int *loaded, int *failed)
{
	int i;

	for (i = 0; i < plan->n; i++) {
		const struct hm_modload *m = &plan->items[i];
		char *path = concat_path_file(dir, m->path);
		int rc = bb_init_module(path, "");

		free(path);
		if (rc == 0) {
			(*loaded)++;
			hm_log(HM_INFO, "modules", "loaded %s", m->name);
		} else if (rc == EEXIST) {
			hm_log(HM_INFO, "modules", "%s already loaded", m->name);
		} else {
			/* a softdep alternative (crc32c-intel on a CPU
			 * without SSE4.2) may fail: the other one serves */
			if (!m->optional)
				(*failed)++;
			hm_log_errno(m->optional ? HM_WARN : HM_ERROR, "modules", rc < 0 ? -rc : rc,
				"loading %s (%s) failed", m->name, m->path);
		}
	}
}

void FAST_FUNC hm_load_modules(void)
{
	struct utsname uts;
	struct hm_modplan plan;
	char *list, *dir;
	int i, loaded = 0, failed = 0;

	hm_phase_begin("modules");
	list = xmalloc_open_read_close(HM_MODULE_LIST, NULL);
	if (!list) {
		hm_phase_end("modules", "no module list in the initrd (%s): nothing to load", HM_MODULE_LIST);
		return;
	}
	uname(&uts);
	dir = concat_path_file("/lib/modules", uts.release);
	if (plan_loads(dir, list, &plan) == 0) {
		for (i = 0; i < plan.n_missing; i++)
			hm_log(HM_ERROR, "modules", "module %s: not in the initrd and not built in", plan.missing[i]);
		for (i = 0; i < plan.n_builtin; i++)
			hm_log(HM_INFO, "modules", "module %s: built into the kernel", plan.builtin[i]);
		load_plan(dir, &plan, &loaded, &failed);
		hm_modplan_free(&plan);
	}
	hm_phase_end("modules", "%d modules loaded, %d failed", loaded, failed);
	free(list);
	free(dir);
}
