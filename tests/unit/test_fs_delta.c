// SPDX-License-Identifier: Apache-2.0
/*
 * test_fs_delta.c - the delta metadata reader and the origin parser
 * (fusefs/delta_read.c): what they accept, what they refuse, and that
 * they read back exactly what common/util.h's JSON encoder writes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "delta_read.h"
#include "util.h"

static int parse(const char *text, struct delta_meta *m, char *err, size_t len)
{
	return delta_meta_parse(text, strlen(text), m, err, len);
}

static void test_meta_valid(void **state)
{
	struct delta_meta m;
	char err[512] = "";
	const char *text =
		"{\"fencefs_delta\":1,\"version\":\"0.1.0\","
		"\"created\":\"2026-11-23T10:00:00.250000Z\",\"source\":\"/abs/src\","
		"\"xattr_ns\":\"trusted\",\"policy_digest\":\"ab\","
		"\"rules\":[[\"read\",\"**\"],[\"write\",\"/output/\"],[\"none\",\"*.key\"]]}";

	(void)state;
	assert_int_equal(parse(text, &m, err, sizeof(err)), 0);
	assert_int_equal(m.format, 1);
	assert_string_equal(m.source, "/abs/src");
	assert_string_equal(m.xattr_ns, "trusted");
	assert_string_equal(m.version, "0.1.0");
	assert_string_equal(m.policy_digest, "ab");
	assert_int_equal(m.nrules, 3);
	assert_string_equal(m.rules[1].level, "write");
	assert_string_equal(m.rules[1].pattern, "/output/");
	assert_string_equal(m.rules[2].pattern, "*.key");
	assert_int_equal(m.created_ts.tv_sec, 1795428000);
	assert_int_equal(m.created_ts.tv_nsec, 250000000);
	delta_meta_free(&m);
}

static void test_meta_unknown_keys_skipped(void **state)
{
	struct delta_meta m;
	char err[512] = "";
	const char *text = " {\"pid\": 42, \"x\": {\"a\": [1, 2.5e3, -0.5, true, false, null, "
			   "{\"b\": \"\\u00e9\"}]}, \"fencefs_delta\": 1, \"source\": \"/s\", "
			   "\"xattr_ns\": \"user\", \"rules\": []}\n";

	(void)state;
	assert_int_equal(parse(text, &m, err, sizeof(err)), 0);
	assert_string_equal(m.xattr_ns, "user");
	assert_int_equal(m.nrules, 0);
	assert_null(m.created);
	delta_meta_free(&m);
}

/* Each of these must be refused with a message. */
static const char *const bad_meta[] = {
	"",
	"[]",
	"{}",
	"{\"fencefs_delta\":1,\"xattr_ns\":\"trusted\",\"rules\":[]}",
	"{\"fencefs_delta\":1,\"source\":\"rel\",\"xattr_ns\":\"trusted\",\"rules\":[]}",
	"{\"fencefs_delta\":1,\"source\":\"/s\",\"xattr_ns\":\"security\",\"rules\":[]}",
	"{\"fencefs_delta\":1,\"source\":\"/s\",\"xattr_ns\":\"trusted\"}",
	"{\"fencefs_delta\":2,\"source\":\"/s\",\"xattr_ns\":\"trusted\",\"rules\":[]}",
	"{\"fencefs_delta\":1.0,\"source\":\"/s\",\"xattr_ns\":\"trusted\",\"rules\":[]}",
	"{\"fencefs_delta\":1,\"source\":\"/s\",\"source\":\"/t\",\"xattr_ns\":\"trusted\","
	"\"rules\":[]}",
	"{\"fencefs_delta\":1,\"source\":\"/s\",\"xattr_ns\":\"trusted\",\"rules\":[]} x",
	"{\"fencefs_delta\":1,\"source\":\"/s\",\"xattr_ns\":\"trusted\",\"rules\":[],}",
	"{\"fencefs_delta\":1,\"source\":\"/s,\"xattr_ns\":\"trusted\",\"rules\":[]}",
	"{\"fencefs_delta\":1,\"source\":\"/s\tx\",\"xattr_ns\":\"trusted\",\"rules\":[]}",
	"{\"fencefs_delta\":1,\"source\":\"/s\\q\",\"xattr_ns\":\"trusted\",\"rules\":[]}",
	"{\"fencefs_delta\":1,\"source\":\"/s\\ud800\",\"xattr_ns\":\"trusted\",\"rules\":[]}",
	"{\"fencefs_delta\":1,\"source\":\"/s\\u0000\",\"xattr_ns\":\"trusted\",\"rules\":[]}",
	"{\"fencefs_delta\":1,\"source\":\"/a\\\\b\",\"xattr_ns\":\"trusted\",\"rules\":[]}",
	"{\"fencefs_delta\":1,\"source\":\"/s\",\"xattr_ns\":\"trusted\",\"rules\":{}}",
	"{\"fencefs_delta\":1,\"source\":\"/s\",\"xattr_ns\":\"trusted\","
	"\"rules\":[[\"write\",\"a\",\"b\"]]}",
	"{\"fencefs_delta\":1,\"source\":\"/s\",\"xattr_ns\":\"trusted\","
	"\"rules\":[[\"wirte\",\"a\"]]}",
	"{\"fencefs_delta\":1,\"source\":\"/s\",\"xattr_ns\":\"trusted\",\"rules\":[[\"write\"]]}",
	"{\"fencefs_delta\":1,\"source\":\"/s\",\"xattr_ns\":\"trusted\",\"rules\":[],"
	"\"created\":\"yesterday\"}",
	"{\"fencefs_delta\":1,\"source\":\"/s\",\"xattr_ns\":\"trusted\",\"rules\":[],"
	"\"x\":[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]}",
	"{\"fencefs_delta\":1,\"source\":\"/s\",\"xattr_ns\":\"trusted\",\"rules\":[],"
	"\"x\":01}",
	"{\"fencefs_delta\":1,\"source\":\"/s\",\"xattr_ns\":\"trusted\",\"rules\":[],\"x\":tru}",
	"{\"fencefs_delta\":1,\"source\":\"/s\",\"xattr_ns\":\"trusted\",\"rules\":[]",
};

static void test_meta_refused(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad_meta) / sizeof(bad_meta[0]); i++) {
		struct delta_meta m;
		char err[512] = "";

		if (parse(bad_meta[i], &m, err, sizeof(err)) != -EINVAL)
			fail_msg("accepted: %s", bad_meta[i]);
		if (!err[0])
			fail_msg("no message for: %s", bad_meta[i]);
	}
}

/* What buf_add_json_str() writes, delta_meta_parse() reads back byte for byte. */
static void test_meta_roundtrip_encoder(void **state)
{
	static const char *const paths[] = {
		"/plain", "/with \"quotes\" and \\back\\slash", "/latin1-\xe9-\xff",
		"/ctl-\x01-\n-\t", "/utf8-\xc3\xa9-\xf0\x9f\x98\x80", "/x\\xff-literal",
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		struct buf b = { 0 };
		struct delta_meta m;
		char err[512] = "";

		buf_adds(&b, "{\"fencefs_delta\":1,\"xattr_ns\":\"user\",\"rules\":[[\"write\",");
		buf_add_json_str(&b, paths[i]);
		buf_adds(&b, "]],\"source\":");
		buf_add_json_str(&b, paths[i]);
		buf_adds(&b, "}");
		assert_false(b.oom);
		if (delta_meta_parse(b.data, b.len, &m, err, sizeof(err)))
			fail_msg("%s: %s", b.data, err);
		assert_string_equal(m.source, paths[i]);
		assert_string_equal(m.rules[0].pattern, paths[i]);
		delta_meta_free(&m);
		buf_free(&b);
	}
}

static void test_origin(void **state)
{
	static const char *const bad[] = {
		"",
		"dev=1 ino=2 size=3",
		"dev=1 ino=2 size=3 mtime=4",
		"dev=1 ino=2 size=3 mtime=4.12345678",
		"dev=1 ino=2 size=3 mtime=4.123456789 ",
		" dev=1 ino=2 size=3 mtime=4.123456789",
		"dev=1 ino=2 size=-3 mtime=4.123456789",
		"dev=1 ino=2 size=3 mtime=4.123456789x",
		"ino=2 dev=1 size=3 mtime=4.123456789",
	};
	const char *good = "dev=2049 ino=1234567 size=42 mtime=1795428000.000000017";
	struct delta_origin o;
	size_t i;

	(void)state;
	assert_int_equal(delta_origin_parse(good, strlen(good), &o), 0);
	assert_int_equal(o.dev, 2049);
	assert_int_equal(o.ino, 1234567);
	assert_int_equal(o.size, 42);
	assert_int_equal(o.mtime.tv_sec, 1795428000);
	assert_int_equal(o.mtime.tv_nsec, 17);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (delta_origin_parse(bad[i], strlen(bad[i]), &o) != -EINVAL)
			fail_msg("accepted origin '%s'", bad[i]);
	/* The length is the xattr's: a NUL inside is not a shorter value. */
	assert_int_equal(delta_origin_parse("dev=1 ino=2 size=3 mtime=4.123456789\0x", 39, &o),
			 -EINVAL);
}

static void test_git_blob_id(void **state)
{
	char id[41];

	(void)state;
	/* `printf '' | git hash-object --stdin`, and of "hello\n". */
	delta_git_blob_id("", 0, id);
	assert_string_equal(id, "e69de29bb2d1d6434b8b29ae775ad8c2e48c5391");
	delta_git_blob_id("hello\n", 6, id);
	assert_string_equal(id, "ce013625030ba8dba906f756967f9e9ca394464a");
}

static void test_xattr_names_and_blobs(void **state)
{
	struct buf b = { 0 };
	struct delta_xattr x;
	uint32_t len = 2;
	size_t pos = 0;

	(void)state;
	assert_true(delta_xattr_is_user("user.k1"));
	assert_false(delta_xattr_is_user("user.overlay.opaque"));
	assert_false(delta_xattr_is_user("user.fencefs.origin"));
	assert_false(delta_xattr_is_user("trusted.overlay.opaque"));
	assert_false(delta_xattr_is_user("security.capability"));
	assert_false(delta_xattr_is_user("system.posix_acl_access"));
	/* Two attributes, the second with an empty value. */
	buf_add(&b, "user.a", 7);
	buf_add(&b, &len, sizeof(len));
	buf_add(&b, "xy", 2);
	len = 0;
	buf_add(&b, "user.b", 7);
	buf_add(&b, &len, sizeof(len));
	assert_true(delta_xattr_next(&b, &pos, &x));
	assert_string_equal(x.name, "user.a");
	assert_int_equal(x.len, 2);
	assert_memory_equal(x.value, "xy", 2);
	assert_true(delta_xattr_next(&b, &pos, &x));
	assert_string_equal(x.name, "user.b");
	assert_int_equal(x.len, 0);
	assert_false(delta_xattr_next(&b, &pos, &x));
	/* A length that runs past the end is not followed. */
	len = 1000;
	memcpy(b.data + 7, &len, sizeof(len));
	pos = 0;
	assert_false(delta_xattr_next(&b, &pos, &x));
	buf_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_meta_valid),
		cmocka_unit_test(test_meta_unknown_keys_skipped),
		cmocka_unit_test(test_meta_refused),
		cmocka_unit_test(test_meta_roundtrip_encoder),
		cmocka_unit_test(test_origin),
		cmocka_unit_test(test_git_blob_id),
		cmocka_unit_test(test_xattr_names_and_blobs),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
