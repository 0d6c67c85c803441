/*
 * Build-time generator of respawn's regional fallback chains.
 *
 * It reads Debian's iso-codes JSON (the countries) and CLDR's
 * supplementalData.xml (the UN M.49 territory containment: which
 * sub-region holds a country, which region holds a sub-region) and writes
 * a C include file with one chain per ISO 3166-1 country, sorted by code.
 *
 * A chain is built in tiers, each country at most once and never the
 * country itself:
 *
 *   1. preferred countries of the same sub-region, in preference order;
 *   2. preferred countries of the rest of the region, in preference order;
 *   3. the other countries of the sub-region, alphabetically;
 *   4. the other countries of the region, alphabetically;
 *
 * cut to the first N ("neighbours"), and then the global hubs.  Preferred
 * countries of the region come before small neighbours because a fallback
 * is only useful where a provider actually holds IPs: Bangladesh falls back
 * to India, then Singapore and Malaysia, not to Bhutan.  Hubs never appear
 * among the neighbours, so they always end the chain.
 *
 * usage: gen_fallback [-H hubs] [-n neighbours] [-p preference]
 *            iso_3166-1.json supplementalData.xml fallback.inc
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdbool.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "core/fallback.h"

#define GEN_COUNTRIES_MAX	512	/* ISO 3166-1 has 249 */
#define GEN_GROUPS_MAX		128	/* CLDR has about 50 */
#define GEN_MEMBERS_MAX		64	/* the largest M.49 group has 26 */
#define GEN_CODE_LEN		8	/* "155", "QO", "BE" and a NUL */
#define GEN_LIST_MAX		GEN_COUNTRIES_MAX
#define GEN_XML_MAX		(16 * 1024 * 1024)
#define GEN_DEPTH_MAX		4	/* world > region > sub-region > ... */
#define GEN_WORLD		"001"

/* The seed's three chains come out of these defaults; see fallback.md. */
#define GEN_DEFAULT_HUBS	"gb,us"
#define GEN_DEFAULT_NEIGHBOURS	3
#define GEN_DEFAULT_PREFERENCE						\
	"nl,fr,de,in,sg,my,za,ke,eg,ng,ma,"				\
	"es,it,ie,se,pl,pt,ch,at,be,dk,no,fi,cz,ro,ua,gr,"		\
	"ae,tr,il,sa,jp,hk,kr,tw,id,th,ph,vn,kz,"			\
	"ca,mx,br,ar,cl,co,pe,pa,cr,do,pr,"				\
	"au,nz,fj,pg"

enum gen_tier {
	TIER_SUB_PREFERRED,
	TIER_REGION_PREFERRED,
	TIER_SUB_OTHER,
	TIER_REGION_OTHER,
};

struct group {
	char	type[GEN_CODE_LEN];
	char	members[GEN_MEMBERS_MAX][GEN_CODE_LEN];
	size_t	nmembers;
};

struct candidate {
	const char	*cc;
	enum gen_tier	 tier;
	size_t		 rank;		/* position in the preference list */
};

static char		 countries[GEN_COUNTRIES_MAX][3];
static size_t		 ncountries;
static struct group	 groups[GEN_GROUPS_MAX];
static size_t		 ngroups;
static char		 prefs[GEN_LIST_MAX][3];
static size_t		 nprefs;
static char		 hubs[FALLBACK_MAX][3];
static size_t		 nhubs;

static void __attribute__((noreturn, format(printf, 1, 2)))
die(const char *fmt, ...)
{
	va_list	ap;

	fputs("gen_fallback: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(65);
}

static int
code_cmp(const void *a, const void *b)
{
	return strcmp(a, b);
}

static bool
is_country(const char *cc)
{
	return bsearch(cc, countries, ncountries, sizeof countries[0],
	    code_cmp) != NULL;
}

static void
load_countries(const char *path)
{
	json_error_t	 err;
	json_t		*root, *list, *e;
	size_t		 i;

	if ((root = json_load_file(path, 0, &err)) == NULL)
		die("%s:%d: %s", path, err.line, err.text);
	list = json_object_get(root, "3166-1");
	if (!json_is_array(list) || json_array_size(list) > GEN_COUNTRIES_MAX)
		die("%s: no usable \"3166-1\" list", path);
	json_array_foreach(list, i, e) {
		const char *a2;

		a2 = json_string_value(json_object_get(e, "alpha_2"));

		if (a2 == NULL || strlen(a2) != 2 ||
		    !isalpha((unsigned char)a2[0]) ||
		    !isalpha((unsigned char)a2[1]))
			die("%s: bad entry %zu", path, i);
		countries[i][0] = (char)tolower((unsigned char)a2[0]);
		countries[i][1] = (char)tolower((unsigned char)a2[1]);
		countries[i][2] = '\0';
	}
	ncountries = json_array_size(list);
	qsort(countries, ncountries, sizeof countries[0], code_cmp);
	json_decref(root);
}

/* A comma-separated list of ISO codes, each at most once. */
static size_t
parse_list(const char *what, const char *s, char (*out)[3], size_t max)
{
	size_t	n = 0, i;

	while (*s != '\0') {
		const char *end = strchr(s, ',');
		size_t len = end != NULL ? (size_t)(end - s) : strlen(s);
		char cc[3];

		if (len != 2)
			die("%s: \"%.*s\" is not a country code", what,
			    (int)len, s);
		cc[0] = (char)tolower((unsigned char)s[0]);
		cc[1] = (char)tolower((unsigned char)s[1]);
		cc[2] = '\0';
		if (!is_country(cc))
			die("%s: \"%s\" is not an ISO 3166-1 code", what, cc);
		for (i = 0; i < n; i++)
			if (strcmp(out[i], cc) == 0)
				die("%s: \"%s\" is listed twice", what, cc);
		if (n == max)
			die("%s: more than %zu codes", what, max);
		memcpy(out[n++], cc, sizeof cc);
		s += len;
		if (*s == ',')
			s++;
	}
	return n;
}

static char *
read_file(const char *path)
{
	FILE	*f;
	char	*data;
	size_t	 n;

	if ((f = fopen(path, "r")) == NULL)
		die("%s: %s", path, strerror(errno));
	if ((data = malloc(GEN_XML_MAX + 1)) == NULL)
		die("out of memory");
	n = fread(data, 1, GEN_XML_MAX + 1, f);
	if (ferror(f))
		die("%s: read error", path);
	if (n > GEN_XML_MAX)
		die("%s: larger than %d bytes", path, GEN_XML_MAX);
	fclose(f);
	data[n] = '\0';
	return data;
}

/*
 * The value of attribute name in the element text [p, end), or NULL.  CLDR
 * writes every attribute as name="value", which is all this handles.
 */
static const char *
xml_attr(const char *p, const char *end, const char *name, size_t *len)
{
	size_t	nlen = strlen(name);

	for (; p < end; p++) {
		const char *v, *q;

		if (p + nlen + 2 > end || strncmp(p, name, nlen) != 0 ||
		    p[nlen] != '=' || p[nlen + 1] != '"' ||
		    !isspace((unsigned char)p[-1]))
			continue;
		v = p + nlen + 2;
		if ((q = memchr(v, '"', (size_t)(end - v))) == NULL)
			die("unterminated attribute %s", name);
		*len = (size_t)(q - v);
		return v;
	}
	return NULL;
}

static bool
attr_is(const char *v, size_t len, const char *want)
{
	return v != NULL && len == strlen(want) && memcmp(v, want, len) == 0;
}

static struct group *
group_get(const char *type)
{
	size_t	i;

	for (i = 0; i < ngroups; i++)
		if (strcmp(groups[i].type, type) == 0)
			return &groups[i];
	if (ngroups == GEN_GROUPS_MAX)
		die("more than %d containment groups", GEN_GROUPS_MAX);
	snprintf(groups[ngroups].type, GEN_CODE_LEN, "%s", type);
	return &groups[ngroups++];
}

static void
group_add(struct group *g, const char *v, size_t len)
{
	const char	*end = v + len;

	while (v < end) {
		size_t n;

		while (v < end && isspace((unsigned char)*v))
			v++;
		for (n = 0; v + n < end && !isspace((unsigned char)v[n]); n++)
			continue;
		if (n == 0)
			break;
		if (n >= GEN_CODE_LEN)
			die("group %s: member too long", g->type);
		if (g->nmembers == GEN_MEMBERS_MAX)
			die("group %s: more than %d members", g->type,
			    GEN_MEMBERS_MAX);
		snprintf(g->members[g->nmembers++], GEN_CODE_LEN, "%.*s",
		    (int)n, v);
		v += n;
	}
}

/*
 * Read the <territoryContainment> groups.  Deprecated groups (codes that no
 * longer exist) and groupings (EU, UN, "Sub-Saharan Africa", "Latin
 * America") are skipped: they overlap the M.49 tree, and keeping them
 * would put a country in two sub-regions.
 */
static void
load_containment(const char *path)
{
	char		*xml, *p, *end;

	xml = read_file(path);
	if ((p = strstr(xml, "<territoryContainment>")) == NULL ||
	    (end = strstr(p, "</territoryContainment>")) == NULL)
		die("%s: no <territoryContainment>", path);
	while (p < end) {
		const char *v, *c, *st, *gr, *e;
		size_t vlen, clen, slen, glen;
		char type[GEN_CODE_LEN];

		if (strncmp(p, "<!--", 4) == 0) {
			if ((p = strstr(p, "-->")) == NULL)
				die("%s: unterminated comment", path);
			continue;
		}
		if (strncmp(p, "<group", 6) != 0 ||
		    !isspace((unsigned char)p[6])) {
			p++;
			continue;
		}
		if ((e = strchr(p, '>')) == NULL || e > end)
			die("%s: unterminated <group>", path);
		v = xml_attr(p, e, "type", &vlen);
		c = xml_attr(p, e, "contains", &clen);
		st = xml_attr(p, e, "status", &slen);
		gr = xml_attr(p, e, "grouping", &glen);
		if (v == NULL || c == NULL || vlen == 0 || vlen >= GEN_CODE_LEN)
			die("%s: <group> without type or contains", path);
		p = (char *)e + 1;
		if (attr_is(st, slen, "deprecated") ||
		    attr_is(st, slen, "grouping") || attr_is(gr, glen, "true"))
			continue;
		snprintf(type, sizeof type, "%.*s", (int)vlen, v);
		group_add(group_get(type), c, clen);
	}
	free(xml);
}

static bool
group_has(const struct group *g, const char *code)
{
	size_t	i;

	for (i = 0; i < g->nmembers; i++)
		if (strcmp(g->members[i], code) == 0)
			return true;
	return false;
}

/* The group whose members include code; two would be a broken tree. */
static const struct group *
group_parent(const char *code)
{
	const struct group	*found = NULL;
	size_t			 i;

	for (i = 0; i < ngroups; i++) {
		if (!group_has(&groups[i], code))
			continue;
		if (found != NULL)
			die("%s is in both %s and %s", code, found->type,
			    groups[i].type);
		found = &groups[i];
	}
	return found;
}

static const struct group *
group_find(const char *type)
{
	size_t	i;

	for (i = 0; i < ngroups; i++)
		if (strcmp(groups[i].type, type) == 0)
			return &groups[i];
	return NULL;
}

static size_t
pref_rank(const char *cc)
{
	size_t	i;

	for (i = 0; i < nprefs; i++)
		if (strcmp(prefs[i], cc) == 0)
			return i;
	return nprefs;
}

static bool
is_hub(const char *cc)
{
	size_t	i;

	for (i = 0; i < nhubs; i++)
		if (strcmp(hubs[i], cc) == 0)
			return true;
	return false;
}

/* Add the ISO countries under g (at any depth) to the candidates. */
static void
collect(const struct group *g, const char *self, bool same_sub,
    struct candidate *cand, size_t *ncand, int depth)
{
	size_t	i, k;

	if (depth > GEN_DEPTH_MAX)
		die("containment deeper than %d under %s", GEN_DEPTH_MAX,
		    g->type);
	for (i = 0; i < g->nmembers; i++) {
		const struct group *sub = group_find(g->members[i]);
		char cc[3];
		bool pref;

		if (sub != NULL) {
			collect(sub, self, same_sub, cand, ncand, depth + 1);
			continue;
		}
		/* CLDR also lists codes ISO does not have (XK, EA, IC...). */
		if (strlen(g->members[i]) != 2)
			continue;
		cc[0] = (char)tolower((unsigned char)g->members[i][0]);
		cc[1] = (char)tolower((unsigned char)g->members[i][1]);
		cc[2] = '\0';
		if (!is_country(cc) || strcmp(cc, self) == 0 || is_hub(cc))
			continue;
		for (k = 0; k < *ncand; k++)
			if (strcmp(cand[k].cc, cc) == 0)
				break;
		if (k < *ncand)
			continue;	/* already there from the sub-region */
		if (*ncand == GEN_COUNTRIES_MAX)
			die("too many candidates for %s", self);
		cand[*ncand].cc = bsearch(cc, countries, ncountries,
		    sizeof countries[0], code_cmp);
		cand[*ncand].rank = pref_rank(cc);
		pref = cand[*ncand].rank < nprefs;
		if (same_sub)
			cand[*ncand].tier = pref ? TIER_SUB_PREFERRED :
			    TIER_SUB_OTHER;
		else
			cand[*ncand].tier = pref ? TIER_REGION_PREFERRED :
			    TIER_REGION_OTHER;
		(*ncand)++;
	}
}

static int
candidate_cmp(const void *a, const void *b)
{
	const struct candidate	*x = a, *y = b;

	if (x->tier != y->tier)
		return x->tier < y->tier ? -1 : 1;
	if (x->rank != y->rank)
		return x->rank < y->rank ? -1 : 1;
	return strcmp(x->cc, y->cc);
}

static void
write_chain(FILE *out, const char *cc, size_t neighbours)
{
	static struct candidate	 cand[GEN_COUNTRIES_MAX];
	const struct group	*sub, *region = NULL;
	const char		*chain[FALLBACK_MAX];
	char			 upper[3];
	size_t			 ncand = 0, n = 0, i;

	upper[0] = (char)toupper((unsigned char)cc[0]);
	upper[1] = (char)toupper((unsigned char)cc[1]);
	upper[2] = '\0';
	if ((sub = group_parent(upper)) == NULL) {
		fprintf(stderr, "gen_fallback: warning: %s is in no CLDR "
		    "sub-region, it gets the hubs only\n", cc);
	} else {
		region = group_parent(sub->type);
		collect(sub, cc, true, cand, &ncand, 0);
		/* A sub-region right under the world is its own region. */
		if (region != NULL && strcmp(region->type, GEN_WORLD) != 0)
			collect(region, cc, false, cand, &ncand, 0);
	}
	qsort(cand, ncand, sizeof cand[0], candidate_cmp);
	for (i = 0; i < ncand && n < neighbours; i++)
		chain[n++] = cand[i].cc;
	for (i = 0; i < nhubs; i++)
		if (strcmp(hubs[i], cc) != 0)
			chain[n++] = hubs[i];

	fprintf(out, "\t{ \"%s\", %zu, {", cc, n);
	for (i = 0; i < n; i++)
		fprintf(out, "%s\"%s\"", i > 0 ? ", " : " ", chain[i]);
	fprintf(out, " } },\t/* %s < %s */\n", sub != NULL ? sub->type : "-",
	    region != NULL ? region->type : "-");
}

static void
usage(void)
{
	fprintf(stderr, "usage: gen_fallback [-H hubs] [-n neighbours] "
	    "[-p preference] iso_3166-1.json supplementalData.xml out.inc\n");
	exit(64);
}

int
main(int argc, char **argv)
{
	const char	*hub_list = GEN_DEFAULT_HUBS;
	const char	*pref_list = GEN_DEFAULT_PREFERENCE;
	long		 neighbours = GEN_DEFAULT_NEIGHBOURS;
	char		*end;
	FILE		*out;
	size_t		 i;
	int		 ch;

	while ((ch = getopt(argc, argv, "H:n:p:")) != -1) {
		switch (ch) {
		case 'H':
			hub_list = optarg;
			break;
		case 'n':
			errno = 0;
			neighbours = strtol(optarg, &end, 10);
			if (errno != 0 || *end != '\0' || end == optarg ||
			    neighbours < 0 || neighbours > FALLBACK_MAX)
				usage();
			break;
		case 'p':
			pref_list = optarg;
			break;
		default:
			usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (argc != 3)
		usage();

	load_countries(argv[0]);
	load_containment(argv[1]);
	nhubs = parse_list("hubs", hub_list, hubs, FALLBACK_MAX);
	nprefs = parse_list("preference", pref_list, prefs, GEN_LIST_MAX);
	if (nhubs == 0)
		die("at least one hub is needed");
	/* The hubs always fit after the neighbours. */
	if ((size_t)neighbours + nhubs > FALLBACK_MAX)
		die("%ld neighbours and %zu hubs exceed FALLBACK_MAX (%d)",
		    neighbours, nhubs, FALLBACK_MAX);

	if ((out = fopen(argv[2], "w")) == NULL)
		die("%s: %s", argv[2], strerror(errno));
	fprintf(out, "/*\n * Generated by tools/gen_fallback.c from %s\n"
	    " * and %s.\n * hubs: %s\n * neighbours: %ld\n"
	    " * preference: %s\n */\n", argv[0], argv[1], hub_list,
	    neighbours, pref_list);
	fprintf(out, "static const char *const fallback_hub_table[] = {");
	for (i = 0; i < nhubs; i++)
		fprintf(out, " \"%s\",", hubs[i]);
	fprintf(out, " };\n\nstatic const struct fallback_row "
	    "fallback_table[] = {\n");
	for (i = 0; i < ncountries; i++)
		write_chain(out, countries[i], (size_t)neighbours);
	fprintf(out, "};\n");
	if (fclose(out) != 0)
		die("%s: %s", argv[2], strerror(errno));
	return 0;
}
