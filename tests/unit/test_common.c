// SPDX-License-Identifier: Apache-2.0
/* Unit tests for common/util.c, common/audit.c and common/quote.c: value
 * parsers, JSON encoding of hostile file names, the audit log's line
 * format, and names quoted for a reviewer's terminal. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "audit.h"
#include "quote.h"
#include "util.h"

static void test_parse_size(void **state)
{
	static const struct {
		const char *in;
		int ret;
		uint64_t out;
	} cases[] = {
		{ "0", 0, 0 },
		{ "123", 0, 123 },
		{ "1K", 0, 1024 },
		{ "1k", 0, 1024 },
		{ "2M", 0, 2ULL << 20 },
		{ "3G", 0, 3ULL << 30 },
		{ "1T", 0, 1ULL << 40 },
		{ "4KiB", 0, 4096 },
		{ "5MB", 0, 5ULL << 20 },
		{ "7B", 0, 7 },
		{ "", -EINVAL, 0 },
		{ "-1", -EINVAL, 0 },
		{ "1.5G", -EINVAL, 0 },
		{ "12Q", -EINVAL, 0 },
		{ "K", -EINVAL, 0 },
		{ " 1", -EINVAL, 0 },
		{ "1 K", -EINVAL, 0 },
		{ "99999999999999999999", -ERANGE, 0 },
		{ "20000000000T", -ERANGE, 0 },
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint64_t v = 42;
		int r = fence_parse_size(cases[i].in, &v);

		if (r != cases[i].ret)
			fail_msg("fence_parse_size('%s') = %d, want %d", cases[i].in, r, cases[i].ret);
		if (r == 0 && v != cases[i].out)
			fail_msg("fence_parse_size('%s') gave %llu", cases[i].in, (unsigned long long)v);
	}
}

static void test_parse_duration(void **state)
{
	static const struct {
		const char *in;
		int ret;
		double out;
	} cases[] = {
		{ "10", 0, 10 },    { "10s", 0, 10 },       { "1.5s", 0, 1.5 },   { "2m", 0, 120 },
		{ "1h", 0, 3600 },  { "250ms", 0, 0.25 },   { "0", -EINVAL, 0 },  { "", -EINVAL, 0 },
		{ "-1", -EINVAL, 0 }, { "5d", -EINVAL, 0 }, { "s", -EINVAL, 0 }, { "1e9h", -ERANGE, 0 },
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		double v = -1;
		int r = fence_parse_duration(cases[i].in, &v);

		if (r != cases[i].ret)
			fail_msg("fence_parse_duration('%s') = %d, want %d", cases[i].in, r,
				 cases[i].ret);
		if (r == 0 && (v < cases[i].out - 1e-9 || v > cases[i].out + 1e-9))
			fail_msg("fence_parse_duration('%s') gave %f", cases[i].in, v);
	}
}

static void test_json_strings(void **state)
{
	static const struct {
		const char *in;
		size_t len;
		const char *out;
	} cases[] = {
		{ "plain", 5, "\"plain\"" },
		{ "a\"b", 3, "\"a\\\"b\"" },
		{ "new\nline", 8, "\"new\\nline\"" },
		{ "tab\there", 8, "\"tab\\there\"" },
		{ "\x01", 1, "\"\\u0001\"" },
		{ "\x7f", 1, "\"\\u007f\"" },
		/* a backslash is doubled after JSON decoding: \\\\ in JSON text */
		{ "a\\b", 3, "\"a\\\\\\\\b\"" },
		/* valid UTF-8 is kept as is */
		{ "caf\xc3\xa9", 5, "\"caf\xc3\xa9\"" },
		{ "\xf0\x9f\x94\x92", 4, "\"\xf0\x9f\x94\x92\"" },
		/* invalid bytes become \\xNN (literal backslash after decoding) */
		{ "\xff", 1, "\"\\\\xff\"" },
		{ "a\xc3", 2, "\"a\\\\xc3\"" },
		/* overlong encoding of '/' and a UTF-16 surrogate are invalid */
		{ "\xc0\xaf", 2, "\"\\\\xc0\\\\xaf\"" },
		{ "\xed\xa0\x80", 3, "\"\\\\xed\\\\xa0\\\\x80\"" },
		/* NUL inside a length-delimited buffer */
		{ "a\0b", 3, "\"a\\u0000b\"" },
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct buf b = { 0 };

		buf_add_json_mem(&b, cases[i].in, cases[i].len);
		assert_non_null(b.data);
		if (strcmp(b.data, cases[i].out))
			fail_msg("case %zu: got %s want %s", i, b.data, cases[i].out);
		buf_free(&b);
	}
}

/* Names quoted as git's quote_c_style() (issue 15 item 7). */
static void test_quote_path(void **state)
{
	static const struct {
		const char *prefix, *in, *out;
	} cases[] = {
		/* Plain names, printable UTF-8 included, stay as they are. */
		{ "", "src/main.c", "src/main.c" },
		{ "a/", "src/main.c", "a/src/main.c" },
		{ "", "caf\xc3\xa9/\xe6\x97\xa5\xe6\x9c\xac.txt", "caf\xc3\xa9/\xe6\x97\xa5\xe6\x9c\xac.txt" },
		{ "", "emoji-\xf0\x9f\x98\x80", "emoji-\xf0\x9f\x98\x80" },
		{ "", "with space", "with space" },
		{ "", "", "" },
		/* git's escapes; the prefix goes inside the quotes. */
		{ "b/", "a\"b", "\"b/a\\\"b\"" },
		{ "", "back\\slash", "\"back\\\\slash\"" },
		{ "", "nl\nx", "\"nl\\nx\"" },
		{ "", "t\tr\rv\vf\fb\ba\a", "\"t\\tr\\rv\\vf\\fb\\ba\\a\"" },
		{ "", "esc\x1b[31m", "\"esc\\033[31m\"" },
		{ "", "del\x7f", "\"del\\177\"" },
		/* U+202E RIGHT-TO-LEFT OVERRIDE: the reviewer would read "txt.exe" backwards. */
		{ "a/", "x\xe2\x80\xaetxt.sh", "\"a/x\\342\\200\\256txt.sh\"" },
		/* The other bidi controls and separators. */
		{ "", "\xe2\x80\xaa\xe2\x80\xab\xe2\x80\xac\xe2\x80\xad",
		  "\"\\342\\200\\252\\342\\200\\253\\342\\200\\254\\342\\200\\255\"" },
		{ "", "\xe2\x81\xa6i\xe2\x81\xa9", "\"\\342\\201\\246i\\342\\201\\251\"" },
		{ "", "\xe2\x81\xa7\xe2\x81\xa8", "\"\\342\\201\\247\\342\\201\\250\"" },
		{ "", "lrm\xe2\x80\x8e", "\"lrm\\342\\200\\216\"" },
		{ "", "rlm\xe2\x80\x8f", "\"rlm\\342\\200\\217\"" },
		{ "", "alm\xd8\x9c", "\"alm\\330\\234\"" },
		{ "", "ls\xe2\x80\xa8ps\xe2\x80\xa9", "\"ls\\342\\200\\250ps\\342\\200\\251\"" },
		/* Neighbours of the bidi ranges are plain text. */
		{ "", "\xe2\x80\x8d\xe2\x80\xaf\xe2\x81\xa5\xe2\x81\xaa", "\xe2\x80\x8d\xe2\x80\xaf\xe2\x81\xa5\xe2\x81\xaa" },
		/* C1 controls: U+009B is CSI, U+0080 and U+009F the ends. */
		{ "", "csi\xc2\x9b" "31m", "\"csi\\302\\233" "31m\"" },
		{ "", "\xc2\x80\xc2\x9f\xc2\xa0", "\"\\302\\200\\302\\237\xc2\xa0\"" },
		/* Not UTF-8: lone bytes, truncated and overlong sequences, surrogates. */
		{ "", "bad\xff", "\"bad\\377\"" },
		{ "", "cut\xe2\x80", "\"cut\\342\\200\"" },
		{ "", "over\xc0\xaf", "\"over\\300\\257\"" },
		{ "", "sur\xed\xa0\x80", "\"sur\\355\\240\\200\"" },
		{ "", "big\xf4\x90\x80\x80", "\"big\\364\\220\\200\\200\"" },
		/* A quoted name keeps its printable UTF-8 as it is. */
		{ "", "\xc3\xa9\n", "\"\xc3\xa9\\n\"" },
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *q = quote_path(cases[i].prefix, cases[i].in, "");
		struct buf b = { 0 };
		char *mem = NULL;
		size_t memlen = 0;
		FILE *f;

		assert_non_null(q);
		if (strcmp(q, cases[i].out))
			fail_msg("case %zu: got '%s', want '%s'", i, q, cases[i].out);
		assert_int_equal(quote_path_needed(cases[i].in), q[0] == '"');
		quote_path_buf(&b, cases[i].prefix, cases[i].in, "");
		buf_add(&b, "", 1);
		assert_string_equal(b.data, q);
		f = open_memstream(&mem, &memlen);
		assert_non_null(f);
		quote_path_fputs(f, cases[i].prefix, cases[i].in, "");
		assert_int_equal(fclose(f), 0);
		assert_string_equal(mem, q);
		free(mem);
		buf_free(&b);
		free(q);
	}
}

/* A suffix (a directory's '/') goes inside the quotes, as the prefix does. */
static void test_quote_path_suffix(void **state)
{
	char *q = quote_path("/", "d\xe2\x80\xae", "/");

	assert_non_null(q);
	assert_string_equal(q, "\"/d\\342\\200\\256/\"");
	free(q);
	q = quote_path("", "plain", "/");
	assert_non_null(q);
	assert_string_equal(q, "plain/");
	free(q);
}

/* Messages: only what steers the terminal is escaped, no quotes added. */
static void test_quote_message(void **state)
{
	static const struct {
		const char *in, *out;
	} cases[] = {
		{ "'a\"b\\c' is not writable", "'a\"b\\c' is not writable" },
		{ "'x\xe2\x80\xaey': conflict", "'x\\342\\200\\256y': conflict" },
		{ "csi \xc2\x9b" "2J and \x1b[2J", "csi \\302\\233" "2J and \\033[2J" },
		{ "caf\xc3\xa9 \xff", "caf\xc3\xa9 \\377" },
		{ "", "" },
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *q = quote_message(cases[i].in);

		assert_non_null(q);
		if (strcmp(q, cases[i].out))
			fail_msg("case %zu: got '%s', want '%s'", i, q, cases[i].out);
		free(q);
	}
}

static void test_buf_growth(void **state)
{
	struct buf b = { 0 };
	int i;

	for (i = 0; i < 10000; i++)
		buf_addf(&b, "%d,", i);
	assert_false(b.oom);
	assert_int_equal(strlen(b.data), b.len);
	assert_memory_equal(b.data, "0,1,2,", 6);
	buf_reset(&b);
	assert_int_equal(b.len, 0);
	assert_string_equal(b.data, "");
	buf_free(&b);
}

static void test_errno_names(void **state)
{
	assert_string_equal(fence_errno_name(ENOENT), "ENOENT");
	assert_string_equal(fence_errno_name(EACCES), "EACCES");
	assert_string_equal(fence_errno_name(EXDEV), "EXDEV");
	assert_string_equal(fence_errno_name(9999), "E9999");
}

static char *read_all(int fd)
{
	static char data[65536];
	ssize_t n = pread(fd, data, sizeof(data) - 1, 0);

	assert_true(n >= 0);
	data[n] = '\0';
	return data;
}

static void test_audit_lines(void **state)
{
	char path[] = "/tmp/fence-audit-test.XXXXXX";
	int fd = mkstemp(path);
	int rfd;
	struct audit *a = NULL;
	char *text;

	assert_true(fd >= 0);
	close(fd);
	unlink(path);
	assert_int_equal(audit_open(path, false, &a), 0);
	rfd = open(path, O_RDONLY);
	assert_true(rfd >= 0);
	audit_deny(a, "open", "/.env\n\"x\"", "none", ENOENT, 0);
	audit_access(a, "write", "rename", "/a", "/b", 0);
	audit_emit(a, "start", "\"argv\":[\"true\"]");
	assert_int_equal(audit_count_denied(a), 1);
	assert_int_equal(audit_count_written(a), 1);
	text = read_all(rfd);
	/* direct mode: written at once, one line per event */
	assert_non_null(strstr(text, "\"event\":\"deny\",\"op\":\"open\",\"path\":\"/.env\\n\\\"x\\\"\""));
	assert_non_null(strstr(text, "\"level\":\"none\",\"errno\":\"ENOENT\",\"pid\":0,\"comm\":\"\"}\n"));
	assert_non_null(strstr(text, "\"event\":\"write\",\"op\":\"rename\",\"path\":\"/a\",\"path2\":\"/b\""));
	assert_non_null(strstr(text, "\"event\":\"start\",\"argv\":[\"true\"]}\n"));
	assert_non_null(strstr(text, "{\"ts\":\"20"));

	/* buffered mode: nothing lost at close */
	assert_int_equal(audit_start_writer(a), 0);
	audit_access(a, "write", "create", "/late", NULL, 0);
	audit_close(a);
	text = read_all(rfd);
	assert_non_null(strstr(text, "\"path\":\"/late\""));
	{
		int lines = 0;
		char *p;

		for (p = text; *p; p++)
			lines += *p == '\n';
		assert_int_equal(lines, 4);
	}
	close(rfd);
	unlink(path);
}

/* Occurrences of NEEDLE in TEXT. */
static int occurrences(const char *text, const char *needle)
{
	int n = 0;

	for (; (text = strstr(text, needle)); text++)
		n++;
	return n;
}

/* Identical events past the burst are summed up; different ones are not. */
static void test_audit_rate_limit(void **state)
{
	char path[] = "/tmp/fence-audit-rate.XXXXXX";
	int fd = mkstemp(path), rfd, k;
	struct audit *a = NULL;
	char *text, p[32];
	const char *c;

	assert_true(fd >= 0);
	assert_int_equal(audit_open_fd(fd, false, &a), 0);
	rfd = open(path, O_RDONLY);
	assert_true(rfd >= 0);
	for (k = 0; k < 100; k++)
		audit_deny(a, "lookup", "/.env", "none", ENOENT, 1000 + k); /* pids differ */
	for (k = 0; k < 20; k++) {
		snprintf(p, sizeof(p), "/.env.%d", k);
		audit_deny(a, "lookup", p, "none", ENOENT, 1);
	}
	assert_int_equal(audit_count_denied(a), 120);
	audit_close(a);
	text = read_all(rfd);
	/* At most a burst or two (the second may turn) of the 100 written, every distinct one. */
	k = occurrences(text, "\"event\":\"deny\",\"op\":\"lookup\",\"path\":\"/.env\",");
	assert_true(k >= 8 && k <= 16);
	assert_int_equal(occurrences(text, "\"path\":\"/.env."), 20);
	/* The rest in suppressed events whose counts add up. */
	{
		int sum = 0;

		for (c = text; (c = strstr(c, "\"event\":\"suppressed\",\"of\":\"deny\"")); c++) {
			const char *n = strstr(c, "\"count\":");

			assert_non_null(n);
			sum += atoi(n + 8);
			assert_non_null(strstr(c, "\"first\":\"20"));
		}
		assert_int_equal(k + sum, 100);
	}
	close(rfd);
	unlink(path);
}

/* Past the cap: dropped, one audit_truncated, the exit event in the reserve. */
static void test_audit_cap(void **state)
{
	char path[] = "/tmp/fence-audit-cap.XXXXXX";
	int fd = mkstemp(path), rfd, k;
	struct audit *a = NULL;
	struct stat st;
	char *text, p[64];

	assert_true(fd >= 0);
	assert_int_equal(audit_open_fd(fd, false, &a), 0);
	audit_set_max(a, 8192);
	assert_int_equal(audit_start_writer(a), 0);
	rfd = open(path, O_RDONLY);
	assert_true(rfd >= 0);
	for (k = 0; k < 1000; k++) {
		snprintf(p, sizeof(p), "/secret-%d", k);
		audit_deny(a, "lookup", p, "none", ENOENT, 1);
	}
	audit_emit(a, "exit", "\"status\":0");
	assert_int_equal(audit_count_denied(a), 1000);
	assert_true(audit_count_dropped(a) > 900);
	audit_close(a);
	assert_int_equal(stat(path, &st), 0);
	assert_true(st.st_size <= 8192 + 4096);
	assert_true(st.st_size > 6000);
	text = read_all(rfd);
	assert_int_equal(occurrences(text, "\"event\":\"audit_truncated\""), 1);
	assert_int_equal(occurrences(text, "\"event\":\"exit\""), 1);
	assert_non_null(strstr(text, "\"path\":\"/secret-0\""));
	assert_null(strstr(text, "\"path\":\"/secret-999\""));
	close(rfd);
	unlink(path);
}

static void test_audit_refuses_symlink(void **state)
{
	char dir[] = "/tmp/fence-audit-dir.XXXXXX";
	char link[128];
	struct audit *a = NULL;

	assert_non_null(mkdtemp(dir));
	snprintf(link, sizeof(link), "%s/log", dir);
	assert_int_equal(symlink("/etc/passwd", link), 0);
	assert_int_equal(audit_open(link, false, &a), -ELOOP);
	unlink(link);
	rmdir(dir);
}

static void test_audit_reports_failure(void **state)
{
	struct audit *a = NULL;
	int fd = open("/dev/full", O_WRONLY | O_CLOEXEC);

	if (fd < 0)
		skip();
	assert_int_equal(audit_open_fd(fd, false, &a), 0);
	assert_false(audit_failed(a));
	audit_emit(a, "start", NULL);
	assert_true(audit_failed(a));
	audit_close(a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_size),        cmocka_unit_test(test_parse_duration),
		cmocka_unit_test(test_json_strings),      cmocka_unit_test(test_buf_growth),
		cmocka_unit_test(test_errno_names),       cmocka_unit_test(test_audit_lines),
		cmocka_unit_test(test_audit_refuses_symlink), cmocka_unit_test(test_audit_reports_failure),
		cmocka_unit_test(test_audit_rate_limit),  cmocka_unit_test(test_audit_cap),
		cmocka_unit_test(test_quote_path),        cmocka_unit_test(test_quote_path_suffix),
		cmocka_unit_test(test_quote_message),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
