// SPDX-License-Identifier: Apache-2.0
/* Unit tests for launcher/launch_config.c (the option parser), the
 * command's environment and the --result object (launch_result.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "launch_config.h"
#include "launch_daemon.h"
#include "launch_result.h"

#define MAXARGS 16

/* Splits S at spaces into argv (prefixed with "fence-run"); "_" is an
 * empty argument.  The strings live in BUF. */
static int split(char *buf, size_t len, const char *s, char **argv)
{
	int argc = 0;
	char *p, *save = NULL;

	snprintf(buf, len, "%s", s);
	argv[argc++] = (char *)"fence-run";
	for (p = strtok_r(buf, " ", &save); p && argc < MAXARGS - 1; p = strtok_r(NULL, " ", &save))
		argv[argc++] = strcmp(p, "_") ? p : (char *)"";
	argv[argc] = NULL;
	return argc;
}

static void test_parse_errors(void **state)
{
	static const struct {
		const char *args;
		const char *msg; /* start of the error message */
	} cases[] = {
		{ "--memory 12Q -- true", "--memory '12Q': invalid size" },
		{ "--memory 1K -- true", "--memory '1K': at least 4M" },
		{ "--max-delta x -- true", "--max-delta 'x': invalid size" },
		{ "--tmp-size 0 -- true", "--tmp-size '0': invalid size" },
		{ "--fd-cache 15 -- true", "--fd-cache '15': at least 16" },
		{ "--fd-cache 0 -- true", "--fd-cache '0': at least 16" },
		{ "--fd-cache -1 -- true", "--fd-cache '-1': invalid number" },
		{ "--fd-cache 16x -- true", "--fd-cache '16x': invalid number" },
		{ "--fd-cache _ -- true", "--fd-cache '': invalid number" },
		{ "--fd-cache 99999999 -- true", "--fd-cache '99999999': invalid number" },
		{ "--fd-cache", "option '--fd-cache' needs a value" },
		{ "--timeout 5x -- true", "--timeout '5x': invalid duration" },
		{ "--timeout -1 -- true", "--timeout '-1': invalid duration" },
		{ "--timeout 0 -- true", "--timeout '0': invalid duration" },
		{ "--pids 0 -- true", "--pids '0': invalid number" },
		{ "--pids -3 -- true", "--pids '-3': invalid number" },
		{ "--pids 99999999 -- true", "--pids '99999999': invalid number" },
		{ "--cpus 0 -- true", "--cpus '0': invalid number" },
		{ "--cpus 1.5x -- true", "--cpus '1.5x': invalid number" },
		{ "--cpus nan -- true", "--cpus 'nan': invalid number" },
		{ "--net bridge -- true", "--net 'bridge': expected none or host" },
		{ "--env FOO -- true", "--env 'FOO': expected KEY=VALUE" },
		{ "--env =x -- true", "--env '=x': expected KEY=VALUE" },
		{ "--env-pass A=B -- true", "--env-pass 'A=B': expected a variable name" },
		{ "--rule write -- true", "--rule 'write': expected LEVEL=PATTERN" },
		{ "--workdir .. -- true", "--workdir '..': must stay inside /workspace" },
		{ "--workdir a/../.. -- true", "--workdir 'a/../..': must stay" },
		{ "--workdir /etc -- true", "--workdir '/etc': must stay" },
		{ "--workdir /workspacex -- true", "--workdir '/workspacex': must stay" },
		{ "--bind-ro /usr:/proc -- true", "--bind-ro '/proc': PATH must be absolute" },
		{ "--bind-ro /usr:/dev/x -- true", "--bind-ro '/dev/x'" },
		{ "--bind-ro /usr:/workspace/x -- true", "--bind-ro '/workspace/x'" },
		{ "--bind-ro /usr:/ -- true", "--bind-ro '/'" },
		{ "--bind-ro /usr:rel -- true", "--bind-ro 'rel'" },
		{ "--bind-ro /usr:/a/../b -- true", "--bind-ro '/a/../b'" },
		{ "--bind-ro :/x -- true", "--bind-ro ':/x': expected HOST[:PATH]" },
		{ "--codebase _ -- true", "--codebase '': empty path" },
		{ "--user _ -- true", "--user '': empty name" },
		{ "--frobnicate -- true", "unknown option '--frobnicate'" },
		{ "-x -- true", "unknown option '-x'" },
		{ "--memory", "option '--memory' needs a value" },
		{ "--codebase /x", "no command given" },
		{ "--", "no command given" },
		{ "-- _", "empty command name" },
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char buf[512], err[512], *argv[MAXARGS];
		struct fence_run_config c;
		int argc = split(buf, sizeof(buf), cases[i].args, argv);
		int r = launch_config_parse(&c, argc, argv, err, sizeof(err));

		if (r != -EINVAL)
			fail_msg("'%s': parse returned %d, want -EINVAL", cases[i].args, r);
		if (strncmp(err, cases[i].msg, strlen(cases[i].msg)))
			fail_msg("'%s': error '%s', want '%s...'", cases[i].args, err, cases[i].msg);
		launch_config_free(&c);
	}
}

static void test_parse_defaults(void **state)
{
	char buf[256], err[256], *argv[MAXARGS];
	struct fence_run_config c;
	int argc = split(buf, sizeof(buf), "true", argv);

	assert_int_equal(launch_config_parse(&c, argc, argv, err, sizeof(err)), 0);
	assert_string_equal(c.codebase, ".");
	assert_string_equal(c.preset, "agent-safe");
	assert_null(c.policy_file);
	assert_null(c.delta);
	assert_false(c.apply);
	assert_false(c.net_host);
	assert_int_equal(c.pids, 4096);
	assert_true(c.tmp_size == 256ULL << 20);
	assert_true(c.timeout == 0 && c.memory == 0 && c.cpus == 0 && c.max_delta == 0);
	assert_true(c.fd_cache == 0);
	assert_int_equal(c.ncommand, 1);
	assert_string_equal(c.command[0], "true");
	assert_null(c.command[1]);
	launch_config_free(&c);
}

static void test_parse_everything(void **state)
{
	char buf[1024], err[256], *argv[64];
	struct fence_run_config c;
	const char *s =
		"--codebase /src --preset development --policy p.ini --rule none=*.db "
		"--rule write=build/ --delta /d --apply --workdir src/lib --env A=1=2 --env B= "
		"--env-pass TERM --net host --timeout 1.5m --memory 512M --pids 100 --cpus 1.5 "
		"--max-delta 1G --tmp-size 64M --fd-cache 16 --bind-ro /opt/tools --bind-ro /usr/share:/data "
		"--user 1000 --audit a.jsonl --audit-all --result r.json --quiet "
		"--unsafe-no-cgroup make -j4";
	char *p, *save = NULL;
	int argc = 0;

	snprintf(buf, sizeof(buf), "%s", s);
	argv[argc++] = (char *)"fence-run";
	for (p = strtok_r(buf, " ", &save); p && argc < 63; p = strtok_r(NULL, " ", &save))
		argv[argc++] = p;
	argv[argc] = NULL;
	assert_int_equal(launch_config_parse(&c, argc, argv, err, sizeof(err)), 0);
	assert_string_equal(c.codebase, "/src");
	assert_string_equal(c.preset, "development");
	assert_string_equal(c.policy_file, "p.ini");
	assert_int_equal(c.nrules, 2);
	assert_string_equal(c.rules[0], "none=*.db");
	assert_string_equal(c.rules[1], "write=build/");
	assert_string_equal(c.delta, "/d");
	assert_true(c.apply);
	assert_string_equal(c.workdir, "src/lib");
	assert_int_equal(c.nenv, 2);
	assert_string_equal(c.env[0], "A=1=2");
	assert_int_equal(c.nenv_pass, 1);
	assert_true(c.net_host);
	assert_true(c.timeout == 90.0);
	assert_true(c.memory == 512ULL << 20);
	assert_int_equal(c.pids, 100);
	assert_true(c.cpus == 1.5);
	assert_true(c.max_delta == 1ULL << 30);
	assert_true(c.tmp_size == 64ULL << 20);
	assert_true(c.fd_cache == 16);
	assert_int_equal(c.nbinds, 2);
	assert_string_equal(c.binds[0].host, "/opt/tools");
	assert_string_equal(c.binds[0].path, "/opt/tools");
	assert_string_equal(c.binds[1].host, "/usr/share");
	assert_string_equal(c.binds[1].path, "/data");
	assert_string_equal(c.user, "1000");
	assert_string_equal(c.audit, "a.jsonl");
	assert_true(c.audit_all && c.quiet && c.unsafe_no_cgroup);
	assert_string_equal(c.result, "r.json");
	assert_int_equal(c.ncommand, 2);
	assert_string_equal(c.command[0], "make");
	assert_string_equal(c.command[1], "-j4");
	launch_config_free(&c);
}

/* "--" and the first non-option end option parsing; nothing after is parsed. */
/* Index of the first argument equal to S in the NULL-terminated ARGV, or -1. */
static int argv_find(char **argv, const char *s)
{
	int i;

	for (i = 0; argv[i]; i++)
		if (!strcmp(argv[i], s))
			return i;
	return -1;
}

/* The daemon's command line carries --fd-cache only when it was given,
 * and always before the two positional arguments (source, mountpoint). */
static void test_daemon_argv_fd_cache(void **state)
{
	static const struct {
		const char *args;
		const char *want; /* value after --fd-cache, NULL: absent */
	} cases[] = {
		{ "true", NULL },
		{ "--fd-cache 16 true", "16" },
		{ "--fd-cache 4096 --max-delta 1M true", "4096" },
		{ "--fd-cache 1048576 true", "1048576" },
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char buf[256], err[256], *argv[MAXARGS], **dargv;
		struct fence_run_config c;
		int argc = split(buf, sizeof(buf), cases[i].args, argv), at, n;

		assert_int_equal(launch_config_parse(&c, argc, argv, err, sizeof(err)), 0);
		dargv = launch_daemon_argv("/bin/fencefs", &c, "/src", "/delta", 1000, 1000, 5, 6,
					   7, -1);
		assert_non_null(dargv);
		for (n = 0; dargv[n]; n++)
			;
		assert_string_equal(dargv[n - 2], "/src");
		assert_string_equal(dargv[n - 1], "/dev/fd/5");
		at = argv_find(dargv, "--fd-cache");
		if (!cases[i].want) {
			assert_int_equal(at, -1);
		} else {
			if (at < 0 || at + 1 >= n - 2)
				fail_msg("'%s': no --fd-cache before the positionals", cases[i].args);
			assert_string_equal(dargv[at + 1], cases[i].want);
		}
		launch_argv_free(dargv);
		launch_config_free(&c);
	}
}

static void test_parse_command_boundary(void **state)
{
	static const struct {
		const char *args;
		int ncommand;
		const char *first;
		const char *preset; /* expected preset */
	} cases[] = {
		{ "-- --help", 1, "--help", "agent-safe" },
		{ "-- -- x", 2, "--", "agent-safe" },
		{ "ls --memory 12Q", 3, "ls", "agent-safe" },
		{ "--preset read-only -- sh -c --version", 3, "sh", "read-only" },
		{ "--policy p.ini -- true", 1, "true", NULL },
		{ "--timeout 5 -- --timeout", 1, "--timeout", "agent-safe" },
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char buf[256], err[256], *argv[MAXARGS];
		struct fence_run_config c;
		int argc = split(buf, sizeof(buf), cases[i].args, argv);

		if (launch_config_parse(&c, argc, argv, err, sizeof(err)) != 0)
			fail_msg("'%s': %s", cases[i].args, err);
		assert_int_equal(c.ncommand, cases[i].ncommand);
		assert_string_equal(c.command[0], cases[i].first);
		if (cases[i].preset)
			assert_string_equal(c.preset, cases[i].preset);
		else
			assert_null(c.preset);
		launch_config_free(&c);
	}
}

static void test_help_version(void **state)
{
	char buf[64], err[256], *argv[MAXARGS];
	struct fence_run_config c;
	int argc = split(buf, sizeof(buf), "--help", argv);

	assert_int_equal(launch_config_parse(&c, argc, argv, err, sizeof(err)), 0);
	assert_true(c.help);
	launch_config_free(&c);
	argc = split(buf, sizeof(buf), "--version", argv);
	assert_int_equal(launch_config_parse(&c, argc, argv, err, sizeof(err)), 0);
	assert_true(c.version);
	launch_config_free(&c);
}

static void test_workdir_normalise(void **state)
{
	static const struct {
		const char *in;
		int ret;
		const char *out;
	} cases[] = {
		{ "src", 0, "src" },
		{ "./src/", 0, "src" },
		{ "src//lib/./x", 0, "src/lib/x" },
		{ "/workspace", 0, "" },
		{ "/workspace/", 0, "" },
		{ "/workspace/a/b", 0, "a/b" },
		{ ".", 0, "" },
		{ "", -EINVAL, NULL },
		{ "..", -EINVAL, NULL },
		{ "a/..", -EINVAL, NULL },
		{ "/workspace/..", -EINVAL, NULL },
		{ "/workspace2", -EINVAL, NULL },
		{ "/tmp", -EINVAL, NULL },
		{ "a/.../b", 0, "a/.../b" },
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char out[64];
		int r = launch_workdir_normalise(cases[i].in, out, sizeof(out));

		if (r != cases[i].ret)
			fail_msg("workdir '%s': %d, want %d", cases[i].in, r, cases[i].ret);
		if (r == 0 && strcmp(out, cases[i].out))
			fail_msg("workdir '%s': '%s', want '%s'", cases[i].in, out, cases[i].out);
	}
}

/* A fake caller environment for launch_env_build. */
static const char *fake_getenv(const char *key)
{
	static const char *const env[][2] = {
		{ "TERM", "xterm-256color" }, { "SSH_AUTH_SOCK", "/run/agent" },
		{ "AWS_SECRET", "s3cr3t" },   { "GOPATH", "/go" },
	};
	size_t i;

	for (i = 0; i < sizeof(env) / sizeof(env[0]); i++)
		if (!strcmp(env[i][0], key))
			return env[i][1];
	return NULL;
}

static const char *no_getenv(const char *key)
{
	return NULL;
}

static char *join_env(char **envp)
{
	static char out[1024];
	size_t i;

	out[0] = '\0';
	for (i = 0; envp[i]; i++) {
		strcat(out, envp[i]);
		strcat(out, ";");
	}
	return out;
}

static void test_env_build(void **state)
{
	char buf[256], err[256], *argv[MAXARGS];
	struct fence_run_config c;
	char **envp;
	int argc;

	argc = split(buf, sizeof(buf), "true", argv);
	assert_int_equal(launch_config_parse(&c, argc, argv, err, sizeof(err)), 0);
	envp = launch_env_build(&c, fake_getenv);
	assert_non_null(envp);
	/* Nothing of the caller's but TERM. */
	assert_string_equal(join_env(envp),
			    "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin;"
			    "HOME=/tmp;LANG=C.UTF-8;TERM=xterm-256color;");
	launch_env_free(envp);
	envp = launch_env_build(&c, no_getenv);
	assert_string_equal(join_env(envp),
			    "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin;"
			    "HOME=/tmp;LANG=C.UTF-8;");
	launch_env_free(envp);
	launch_config_free(&c);

	argc = split(buf, sizeof(buf),
		     "--env-pass GOPATH --env-pass MISSING --env HOME=/workspace --env X=a=b "
		     "--env-pass TERM --env GOPATH=/mine true",
		     argv);
	assert_int_equal(launch_config_parse(&c, argc, argv, err, sizeof(err)), 0);
	envp = launch_env_build(&c, fake_getenv);
	/* --env wins over --env-pass; a later key replaces in place. */
	assert_string_equal(join_env(envp),
			    "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin;"
			    "HOME=/workspace;LANG=C.UTF-8;TERM=xterm-256color;GOPATH=/mine;X=a=b;");
	launch_env_free(envp);
	launch_config_free(&c);
}

static void test_result_json(void **state)
{
	struct launch_result r = {
		.exit_code = 137,
		.signal = 9,
		.oom_killed = true,
		.wall_seconds = 1.5,
		.user_seconds = 0.25,
		.sys_seconds = 0.125,
		.peak_memory_bytes = 67108864,
		.denied = 3,
		.written = 2,
	};
	struct buf b = { 0 };

	launch_result_json(&r, &b);
	assert_string_equal(b.data,
			    "{\"exit_code\":137,\"signal\":9,\"timed_out\":false,\"oom_killed\":true,"
			    "\"wall_seconds\":1.500000,\"user_seconds\":0.250000,"
			    "\"sys_seconds\":0.125000,\"peak_memory_bytes\":67108864,\"denied\":3,"
			    "\"written\":2,\"delta\":null,\"apply\":null,\"error\":null}");
	buf_free(&b);

	r = (struct launch_result){ .exit_code = 125, .delta = "/tmp/d \"x\"",
				    .apply_json = " {\"applied\":1}\n", .error = "bad\nthing" };
	launch_result_json(&r, &b);
	assert_string_equal(b.data,
			    "{\"exit_code\":125,\"signal\":null,\"timed_out\":false,"
			    "\"oom_killed\":false,\"wall_seconds\":0.000000,\"user_seconds\":0.000000,"
			    "\"sys_seconds\":0.000000,\"peak_memory_bytes\":0,\"denied\":0,"
			    "\"written\":0,\"delta\":\"/tmp/d \\\"x\\\"\",\"apply\":{\"applied\":1},"
			    "\"error\":\"bad\\nthing\"}");
	buf_free(&b);

	/* Output of a commit tool that is not one JSON object stays a string. */
	r = (struct launch_result){ .apply_json = "oops" };
	launch_result_json(&r, &b);
	assert_non_null(strstr(b.data, "\"apply\":\"oops\""));
	buf_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_errors),
		cmocka_unit_test(test_parse_defaults),
		cmocka_unit_test(test_parse_everything),
		cmocka_unit_test(test_parse_command_boundary),
		cmocka_unit_test(test_daemon_argv_fd_cache),
		cmocka_unit_test(test_help_version),
		cmocka_unit_test(test_workdir_normalise),
		cmocka_unit_test(test_env_build),
		cmocka_unit_test(test_result_json),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
