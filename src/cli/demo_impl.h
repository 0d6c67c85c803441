/*
 * What the files of `respawn demo` share, and nobody else: cmd_demo.c (the
 * command: its options, the world it sets up, the order of the phases and
 * the clean-up), demo_phase.c (the phases: the daemon started, killed,
 * crashed with its connectors and stopped, each judged by what the store
 * and the lab say) and demo_out.c (the narrative, the checks and the
 * summary).  demo_lab.h and demo_proc.h are the demo's helpers for the
 * lab's admin API and for processes.
 */
#ifndef RESPAWN_DEMO_IMPL_H
#define RESPAWN_DEMO_IMPL_H

#include <sys/types.h>

#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#include "base/country.h"
#include "base/validate.h"
#include "cli/demo_lab.h"
#include "store/store.h"

#define DEMO_SESSIONS_MAX	200	/* well within the lab's inventory */
#define DEMO_PATH_LEN		PATH_MAX
#define DEMO_ENV_MAX		48	/* the daemon's environment */
#define DEMO_KILL_MS		3000	/* a process killed with SIGKILL */
#define DEMO_POLL_MS		100
#define DEMO_MSG_LEN		512

/*
 * The sessions' countries (cmd_demo.c), in the order the narrative lists
 * them; weight 0 is exactly one session.
 */
struct demo_country {
	const char	*cc;
	const char	*prefix;
	int		 weight;	/* 0: exactly one session */
};

extern const struct demo_country	demo_countries[];
extern const size_t			demo_ncountries;

/* The signal that interrupts the demo, or 0; set by cmd_demo.c's handler. */
extern volatile sig_atomic_t		demo_signal;

/* What the store says about one session. */
struct demo_sess {
	int64_t	id;
	char	phone[PHONE_LEN];
	char	country[COUNTRY_CODE_LEN];
	char	proxy_country[COUNTRY_CODE_LEN];	/* "" without one */
	bool	ready;		/* ready, for the instance looked for */
	bool	graceful;
	int64_t	pid;
	int64_t	ticks;
};

struct demo_snap {
	struct demo_sess	s[DEMO_SESSIONS_MAX];
	size_t			n;
	int64_t			ready;
	int64_t			graceful;
	int64_t			fallback;
	const char		*owner;	/* count only its ready sessions */
};

/* What the WhatsApp stand-in sees, from /lab/wa. */
struct demo_wa {
	int64_t	 connected;
	int64_t	 connects;
	int64_t	 conflicts;
	json_t	*phones;	/* phone -> {ip, country, ...} */
};

struct demo {
	/* Options. */
	int64_t		 sessions;
	bool		 keep;
	bool		 json;
	const char	*lab_opt;

	/* Paths: this binary, the lab's two, the temporary directory. */
	char		 self[DEMO_PATH_LEN];
	char		 lab[DEMO_PATH_LEN];
	char		 connector[DEMO_PATH_LEN];
	char		 dir[DEMO_PATH_LEN];
	bool		 dir_made;
	char		 db[DEMO_PATH_LEN];
	char		 api[DEMO_LAB_URL_LEN];
	struct demo_lab_ports ports;

	/* What runs. */
	pid_t		 lab_pid;
	pid_t		 serve_pid;
	int		 serve_n;
	char		 serve_log[DEMO_PATH_LEN];
	char		 instance[STORE_ID_LEN];
	struct store	*st;
	char		*env[DEMO_ENV_MAX + 1];
	size_t		 n_env;

	/* Output. */
	FILE		*out;
	bool		 tty;
	int64_t		 t0;

	/* Figures, kept as the JSON summary is built. */
	json_t		*sum;
	json_t		*failures;
	int64_t		 countries;
	int64_t		 conflicts;
	int64_t		 ips_changed;
	int64_t		 leftover;
	struct demo_snap snap;	/* large: kept out of the stack */
	struct demo_snap before;
};

/* demo_phase.c */

/* Start respawn-lab and wait for its ports; d->api is then its URL. */
int	 demo_start_lab(struct demo *d);
/*
 * The phases, in their order.  Each returns 0 (its checks may still have
 * failed, in d->failures), -EINTR on a signal, or an exit status after
 * saying what went wrong.  wa0 is what WhatsApp saw after the first start.
 */
int	 demo_phase_start(struct demo *d, struct demo_wa *wa0);
int	 demo_phase_kill(struct demo *d, const struct demo_wa *wa0);
int	 demo_phase_crash(struct demo *d, const struct demo_wa *wa0);
int	 demo_phase_stop(struct demo *d);
/* SIGKILL the daemon, if one runs. */
void	 demo_kill_serve(struct demo *d);
/* SIGKILL every connector the store records; returns how many. */
int	 demo_kill_connectors(struct demo *d);

/* demo_out.c */

void	 demo_say(struct demo *d, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
void	 demo_heading(struct demo *d, const char *text);
void	 demo_tail(const char *path);
int	 demo_fail(struct demo *d, int ex, const char *fmt, ...)
	    __attribute__((format(printf, 3, 4)));
const char *demo_keep_hint(const struct demo *d);
bool	 demo_check(struct demo *d, bool ok, const char *fmt, ...)
	    __attribute__((format(printf, 3, 4)));
void	 demo_progress(struct demo *d, int64_t ready, int64_t ms, bool done);
void	 demo_fallback_text(json_t *pairs, char *buf, size_t size);
void	 demo_summary(struct demo *d, bool ok);

#endif
