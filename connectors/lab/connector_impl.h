/*
 * What the lab connector's files share, and nobody else: connector.c (its
 * environment, the tunnel through the proxy, the stand-in's lines, the
 * connected session and main), connector_pair.c (linking the device again
 * by QR code or pairing code) and connector_fence.c (fencing itself in
 * fleet mode).
 */
#ifndef RESPAWN_LAB_CONNECTOR_IMPL_H
#define RESPAWN_LAB_CONNECTOR_IMPL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define EXIT_STOPPED		0
#define EXIT_FAILURE_		1
#define EXIT_USAGE		2
#define EXIT_TEMPFAIL		75
#define EXIT_LOGGED_OUT		78

#define CONN_TIMEOUT_MS		10000
#define FIELD_MAX		256
#define LINE_MAX_		512
#define TOKEN_BYTES		16

struct connector {
	const char	*session_id;
	const char	*phone;
	char		 proxy_user[FIELD_MAX];
	char		 proxy_pass[FIELD_MAX];
	char		 proxy_host[FIELD_MAX];
	int		 proxy_port;
	const char	*wa_addr;
	const char	*session_dir;
	char		 token[TOKEN_BYTES * 2 + 1];
	int64_t		 watchdog_ms;	/* half of WATCHDOG_USEC, or 0 */
	int64_t		 ready_delay_ms;
	int64_t		 ready_repeat_ms;	/* 0: never */
	bool		 never_ready;
	int64_t		 crash_after_ms;
	int64_t		 fence_ms;	/* RESPAWN_FENCE_USEC / 1000, or 0 */
	int64_t		 fence_next;	/* the next ping, monotonic ms */
	int		 sigfd;
	int		 sock;
	int64_t		 start_ms;
	char		 line[LINE_MAX_];
	size_t		 linelen;
};

/* connector.c */
void	connector_say(const char *event, const char *detail);
bool	connector_notify(const char *msg);
void	connector_finish(struct connector *c, int code, const char *event,
	    const char *note) __attribute__((noreturn));
int64_t	connector_env_ms(const char *name, int64_t def);
void	connector_send_all(struct connector *c, const char *p, size_t n);
void	connector_connect_proxy(struct connector *c);
int	connector_proxy_handshake(struct connector *c);
int	connector_line_recv(struct connector *c, int timeout_ms);
char	*connector_line_next(struct connector *c, size_t *used);
void	connector_line_drop(struct connector *c, size_t used);

/* connector_pair.c */
bool	connector_pair_needed(const struct connector *c);
void	connector_pair_device(struct connector *c);
void	connector_pair_retire_token(const struct connector *c);

/* connector_fence.c */
void	connector_fence_taken(int64_t now);
void	connector_fence_tick(struct connector *c, int64_t now);
int64_t	connector_fence_deadline(const struct connector *c, int64_t d);

#endif
