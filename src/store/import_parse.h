/*
 * Reading an existing fleet for `respawn import`: the phones, their
 * proxies and their recovery state, from the files people have, turned
 * into rows the store can take (store/import.c).  Pure: the caller reads
 * the file; nothing here touches the store or the provider.
 *
 * Three forms are read:
 *
 *   firestore  a JSON export of the collections of the system respawn
 *              replaces: whatsapp_phone_numbers, proxy_assignments,
 *              session_recovery and server_instances (the seed's field
 *              names: userId, phoneNumber, proxyIp, country,
 *              requestedCountry, fallbackUsed, assignedAt,
 *              gracefulShutdown, shutdownAt, status, instanceId,
 *              lastUpdated).  The top object holds the collections, or
 *              holds them under "__collections__"; a collection is an
 *              object of documents by id or an array of documents; a
 *              document holds its fields, or holds them typed under
 *              "fields" as Firestore's REST API writes them.  A time is an
 *              RFC 3339 string, seconds or milliseconds since the epoch,
 *              or a Timestamp object ({"_seconds","_nanoseconds"},
 *              {"seconds","nanos"}, {"__datatype__":"timestamp",...}).
 *              The documents of one phone, in whichever collections, make
 *              one row; of several proxy assignments of a phone the newest
 *              counts.
 *   csv        USER,PHONE,COUNTRY[,PROXY] per line, or any order of those
 *              columns named by a header line (user|userId,
 *              phone|phoneNumber, country, proxy|proxyIp, priority,
 *              type|proxyType); '#' starts a comment line.
 *   jsonl      one JSON object per line with a proxy assignment's fields
 *              (and priority, proxyType, status, lastUpdated).
 *
 * Every row that cannot be mapped keeps its reason (naming the value) and
 * where it came from (a line, or collection/document): nothing is dropped
 * silently.  Unknown extra fields are ignored and counted.
 */
#ifndef RESPAWN_IMPORT_PARSE_H
#define RESPAWN_IMPORT_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

#define IMPORT_FILE_MAX		(64u << 20)	/* bytes of one file */
#define IMPORT_ROWS_MAX		STORE_ADD_MANY_MAX	/* rows of one file */
#define IMPORT_LINE_MAX		4096	/* bytes of one csv or jsonl line */
#define IMPORT_WHERE_LEN	160	/* "line 12", "proxy_assignments/ID" */
#define IMPORT_ERR_LEN		256

enum import_format {
	IMPORT_FORMAT_AUTO,	/* by the content: see import_parse */
	IMPORT_FORMAT_FIRESTORE,
	IMPORT_FORMAT_CSV,
	IMPORT_FORMAT_JSONL,
};

struct import_row {
	size_t			line;	/* csv, jsonl: from 1; firestore: 0 */
	char			where[IMPORT_WHERE_LEN];
	char			error[IMPORT_ERR_LEN];	/* "": a good row */
	struct session_new	s;	/* s.country: the requested country */
	char			proxy_ip[STORE_IP_LEN];	/* "": none */
	/* The proxy's country as the file says ("": it does not). */
	char			proxy_country[COUNTRY_CODE_LEN];
	bool			fallback_used;	/* as the file says */
	int64_t			assigned_at;	/* 0: not said */
	char			instance_id[STORE_ID_LEN];	/* "": none */
};

struct import_set {
	enum import_format	 format;
	struct import_row	*rows;
	size_t			 n;
	size_t			 documents;	/* documents or lines read */
	size_t			 fields_ignored;	/* unknown fields */
	size_t			 superseded;	/* older proxy assignments */
	size_t			 instances;	/* server_instances documents */
	/* Instances the export shows running: the old system may still be. */
	size_t			 instances_running;
	char			 running[STORE_ID_LEN];	/* the first of them */
};

/*
 * Parse len bytes of text.  IMPORT_FORMAT_AUTO: a text that is one JSON
 * object holding a known collection (or "__collections__") is a Firestore
 * export, one whose first line is a JSON object is JSON lines, anything
 * else csv.  Proxy types default to default_type.  0 and *ret on success
 * (rows that cannot be mapped are in it, with their error); -EINVAL with
 * err for a file that cannot be read as its format at all, -E2BIG for
 * more than IMPORT_FILE_MAX bytes or IMPORT_ROWS_MAX rows.
 */
int	import_parse(const char *text, size_t len, enum import_format format,
	    enum proxy_type default_type, struct import_set **ret,
	    char err[IMPORT_ERR_LEN]);
void	import_set_free(struct import_set *set);
const char *import_format_name(enum import_format f);
int	import_format_parse(const char *s, enum import_format *ret);

#endif
