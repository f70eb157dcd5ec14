// SPDX-License-Identifier: Apache-2.0
/* Unit tests for common/util.c and common/audit.c: value parsers, JSON
 * encoding of hostile file names, and the audit log's line format. */
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
#include <unistd.h>

#include "audit.h"
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
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
