/*
 * Lab state files (see state.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/log.h"
#include "base/util.h"
#include "gsm.h"
#include "lab.h"
#include "state.h"
#include "wa.h"

#define STATE_VERSION	1

int
state_save(struct lab *lab, const char *path)
{
	char	 tmp[PATH_MAX + 8];
	json_t	*j;
	int	 fd, r = 0;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	j = json_pack("{s:i,s:I,s:f,s:I,s:o,s:o,s:o,s:o}",
	    "version", STATE_VERSION,
	    "clock_ms", (json_int_t)lab_now(lab),
	    "clock_speed", labclock_speed(lab->clock),
	    "rng", (json_int_t)lab->rng.state,
	    "world", world_save(lab->world),
	    "ledger", ledger_save(lab->ledger),
	    "wa", wa_save(lab->wa),
	    "gsm", gsm_save(lab->gsm));
	if (j == NULL)
		return -ENOMEM;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		r = -errno;
		goto out;
	}
	if (json_dumpfd(j, fd, JSON_INDENT(1)) != 0 || fsync(fd) != 0)
		r = -EIO;
	close(fd);
	if (r == 0 && rename(tmp, path) != 0)
		r = -errno;
	if (r != 0)
		(void)unlink(tmp);
out:
	json_decref(j);
	if (r == 0)
		log_info("state.saved", LOGF_S("path", path));
	return r;
}

int
state_load(struct lab *lab, const char *path)
{
	json_error_t	 err;
	json_t		*j;
	json_int_t	 clock_ms, rng;
	double		 speed;
	int		 version, r;

	if (access(path, F_OK) != 0)
		return -ENOENT;
	j = json_load_file(path, 0, &err);
	if (j == NULL)
		return -EINVAL;
	if (json_unpack(j, "{s:i,s:I,s:F,s:I}", "version", &version,
	    "clock_ms", &clock_ms, "clock_speed", &speed, "rng", &rng) != 0 ||
	    version != STATE_VERSION) {
		r = -EINVAL;
		goto out;
	}
	if ((r = world_load(lab->world, json_object_get(j, "world"))) != 0 ||
	    (r = ledger_load(lab->ledger, json_object_get(j, "ledger"))) != 0 ||
	    (r = wa_load(lab->wa, json_object_get(j, "wa"))) != 0 ||
	    (r = gsm_load(lab->gsm, json_object_get(j, "gsm"))) != 0)
		goto out;
	labclock_set(lab->clock, clock_ms, util_mono_ms());
	(void)labclock_set_speed(lab->clock, speed, util_mono_ms());
	lab->rng.state = (uint64_t)rng;
	log_info("state.loaded", LOGF_S("path", path));
out:
	json_decref(j);
	return r;
}
