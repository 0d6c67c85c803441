# mkman.awk: a manual page from its template, each table named in it
# filled in from the Markdown document that is the table's one source.
#
#   awk -v srcdir=DIR -f mkman.awk TEMPLATE >PAGE
#
# A template line
#
#   .\" @table docs/CONFIGURATION.md ## Keys
#
# becomes one .TP entry per row of the first table after that heading of
# that file (relative to srcdir): the first cell is the tag, the cells
# between are "Header: value" (empty ones and "none" left out), the last
# is the paragraph.  Backquoted code and **bold** become bold, links their
# text.  A missing heading, an empty table or a row with a cell too many
# or too few is an error: the build stops rather than drop an entry.
# POSIX awk only (Debian's mawk).

function trim(s) {
	sub(/^[ \t]+/, "", s)
	sub(/[ \t]+$/, "", s)
	return s
}

# Split a table row into a[1..n] at the bars outside backquotes.
function cells(s, a,    i, ch, inq, cur, n) {
	n = 0
	cur = ""
	inq = 0
	s = trim(s)
	s = substr(s, 2)
	for (i = 1; i <= length(s); i++) {
		ch = substr(s, i, 1)
		if (ch == "`")
			inq = !inq
		if (ch == "|" && !inq) {
			a[++n] = trim(cur)
			cur = ""
			continue
		}
		cur = cur ch
	}
	if (trim(cur) != "")
		a[++n] = trim(cur)
	return n
}

# Markdown inline text to roff: code and bold in bold, links as their
# text, backslashes and a leading control character escaped.
function md(s,    out, i, ch, code, bold, j, k, rest) {
	out = ""
	code = 0
	bold = 0
	for (i = 1; i <= length(s); i++) {
		ch = substr(s, i, 1)
		if (ch == "`") {
			out = out (code ? "\\fR" : "\\fB")
			code = !code
			continue
		}
		if (ch == "\\") {
			out = out "\\e"
			continue
		}
		if (code) {
			out = out (ch == "-" ? "\\-" : ch)
			continue
		}
		if (substr(s, i, 2) == "**") {
			out = out (bold ? "\\fR" : "\\fB")
			bold = !bold
			i++
			continue
		}
		if (ch == "[") {
			rest = substr(s, i)
			j = index(rest, "](")
			if (j > 0) {
				k = index(substr(rest, j + 2), ")")
				if (k > 0) {
					out = out md(substr(rest, 2, j - 2))
					i += j + k
					continue
				}
			}
		}
		out = out ch
	}
	if (code || bold)
		out = out "\\fR"
	if (out ~ /^[.']/)
		out = "\\&" out
	return out
}

function fail(msg) {
	print "mkman.awk: " msg > "/dev/stderr"
	failed = 1
	exit 1
}

function table(file, heading,    line, found, state, hdr, ncol, c, n, i,
    body, rows) {
	found = 0
	state = 0
	rows = 0
	while ((getline line < file) > 0) {
		if (!found) {
			if (line == heading)
				found = 1
			continue
		}
		if (state == 0) {
			if (line ~ /^\|/) {
				ncol = cells(line, hdr)
				state = 1
			} else if (line ~ /^#/) {
				break
			}
			continue
		}
		# The row under the header: |---|---|.
		if (state == 1) {
			state = 2
			continue
		}
		if (line !~ /^\|/)
			break
		n = cells(line, c)
		if (n != ncol)
			fail(file ": a row of " n " cells under a header of " \
			    ncol ": " line)
		print ".TP"
		print md(c[1])
		body = ""
		for (i = 2; i < n; i++) {
			if (c[i] == "" || c[i] == "none")
				continue
			body = body (body == "" ? hdr[i] : "; " tolower(hdr[i])) \
			    ": " md(c[i])
		}
		if (body != "") {
			print body "."
			print ".br"
		}
		print md(c[n])
		rows++
	}
	close(file)
	if (!found)
		fail(file ": no line '" heading "'")
	if (rows == 0)
		fail(file ": no table rows under '" heading "'")
}

/^\.\\" @table / {
	spec = $0
	sub(/^\.\\" @table /, "", spec)
	file = spec
	sub(/ .*/, "", file)
	heading = substr(spec, length(file) + 2)
	table(srcdir "/" file, heading)
	next
}

{ print }

END {
	if (failed)
		exit 1
}
