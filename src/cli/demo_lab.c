/*
 * respawn-lab's ports file and admin API: see demo_lab.h.
 */
#include <sys/socket.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <curl/curl.h>

#include "base/buf.h"
#include "base/util.h"
#include "cli/demo_lab.h"

#define DEMO_LAB_LINE_LEN	128	/* "LAB_API_PORT=40417" */

int
demo_lab_read_ports(const char *path, struct demo_lab_ports *ret)
{
	struct demo_lab_ports	 p = { 0, 0, 0 };
	char			 line[DEMO_LAB_LINE_LEN], *eq;
	int64_t			 v;
	FILE			*f;

	if ((f = fopen(path, "re")) == NULL)
		return -errno;
	while (fgets(line, sizeof line, f) != NULL) {
		line[strcspn(line, "\r\n")] = '\0';
		if ((eq = strchr(line, '=')) == NULL)
			continue;
		*eq++ = '\0';
		if (util_parse_i64(eq, 1, 65535, &v) < 0)
			continue;
		if (strcmp(line, "LAB_API_PORT") == 0)
			p.api = (int)v;
		else if (strcmp(line, "LAB_PROXY_PORT") == 0)
			p.proxy = (int)v;
		else if (strcmp(line, "LAB_WA_PORT") == 0)
			p.wa = (int)v;
	}
	fclose(f);
	if (p.api == 0 || p.proxy == 0 || p.wa == 0)
		return -EINVAL;
	*ret = p;
	return 0;
}

/* libcurl's sockets, close-on-exec from birth like every other fd. */
static curl_socket_t
demo_lab_opensocket(void *arg, curlsocktype purpose,
    struct curl_sockaddr *addr)
{
	return socket(addr->family, addr->socktype | SOCK_CLOEXEC,
	    addr->protocol);
}

static size_t
demo_lab_write(char *p, size_t size, size_t n, void *arg)
{
	struct buf	*b = arg;

	/* Past the limit the transfer fails with CURLE_WRITE_ERROR. */
	if (buf_append(b, p, size * n) < 0)
		return 0;
	return size * n;
}

int
demo_lab_get(const char *base, const char *path, json_t **ret,
    char err[DEMO_LAB_ERR_LEN])
{
	char		 url[DEMO_LAB_URL_LEN];
	struct buf	 b;
	json_error_t	 je;
	json_t		*o;
	CURLcode	 rc;
	CURL		*c;
	long		 status = 0;

	if (snprintf(url, sizeof url, "%s%s", base, path) >= (int)sizeof url) {
		snprintf(err, DEMO_LAB_ERR_LEN, "URL too long: %s%s", base,
		    path);
		return -ENAMETOOLONG;
	}
	if ((c = curl_easy_init()) == NULL)
		return -ENOMEM;
	buf_init(&b, DEMO_LAB_ANSWER_MAX);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)DEMO_LAB_TIMEOUT_MS);
	curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http");
	curl_easy_setopt(c, CURLOPT_OPENSOCKETFUNCTION, demo_lab_opensocket);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, demo_lab_write);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
	rc = curl_easy_perform(c);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_cleanup(c);
	if (rc != CURLE_OK || status != 200) {
		if (rc != CURLE_OK)
			snprintf(err, DEMO_LAB_ERR_LEN, "GET %s: %s", url,
			    rc == CURLE_WRITE_ERROR ? "answer too large" :
			    curl_easy_strerror(rc));
		else
			snprintf(err, DEMO_LAB_ERR_LEN, "GET %s: HTTP %ld", url,
			    status);
		buf_free(&b);
		return -EIO;
	}
	o = json_loadb(b.data != NULL ? b.data : "", b.len, 0, &je);
	buf_free(&b);
	if (o == NULL) {
		snprintf(err, DEMO_LAB_ERR_LEN, "GET %s: bad JSON: %s", url,
		    je.text);
		return -EPROTO;
	}
	*ret = o;
	return 0;
}
