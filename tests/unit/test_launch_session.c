// SPDX-License-Identifier: Apache-2.0
/* Unit tests for launcher/launch_wire.c: sandbox names, the session
 * options' checks, the state base directory, the EXEC payload and the
 * datagram framing (over a socket pair). */
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
#include <sys/socket.h>
#include <unistd.h>

#include "launch_config.h"
#include "launch_session.h"
#include "util.h"

#define MAXARGS 16

static int split(char *buf, size_t len, const char *s, char **argv)
{
	int argc = 0;
	char *p, *save = NULL;

	snprintf(buf, len, "%s", s);
	argv[argc++] = (char *)"fence-run";
	for (p = strtok_r(buf, " ", &save); p && argc < MAXARGS - 1; p = strtok_r(NULL, " ", &save))
		argv[argc++] = p;
	argv[argc] = NULL;
	return argc;
}

static void test_names(void **state)
{
	static const struct {
		const char *name;
		bool ok;
	} cases[] = {
	    {"a", true},
	    {"agent-1.task_2", true},
	    {"0123456789012345678901234567890123456789012345678901234567890123", true},
	    {"01234567890123456789012345678901234567890123456789012345678901234", false},
	    {"", false},
	    {".", false},
	    {"..", false},
	    {"...", true},
	    {"a/b", false},
	    {"a b", false},
	    {"é", false},
	    {"a\n", false},
	    {"-rf", true},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		if (launch_session_name_valid(cases[i].name) != cases[i].ok)
			fail_msg("name '%s': expected %d", cases[i].name, cases[i].ok);
	}
	assert_false(launch_session_name_valid(NULL));
}

static void test_session_options(void **state)
{
	static const struct {
		const char *args;
		const char *msg; /* NULL: parses */
	} cases[] = {
	    {"--name s1 --detach", NULL},
	    {"--name s1 --detach --ttl 1h --idle-timeout 5m -- sleep 1000", NULL},
	    {"--name s1 --detach --memory 1G --delta /tmp/d --rule write=**", NULL},
	    {"--in s1 -- true", NULL},
	    {"--in s1 --timeout 5 --env A=b --workdir src --result /tmp/r -- true", NULL},
	    {"--list", NULL},
	    {"--list --json", NULL},
	    {"--stop s1", NULL},
	    {"--stop --all", NULL},
	    {"--pause s1", NULL},
	    {"--resume s1", NULL},
	    {"--detach", "--detach needs --name NAME"},
	    {"--name s1 -- true", "--name needs --detach"},
	    {"--name a/b --detach", "--name 'a/b': a name is"},
	    {"--name s1 --detach --timeout 5", "--timeout is per command"},
	    {"--name s1 --detach --result /tmp/r", "--result is per command"},
	    {"--name s1 --detach --apply", "--apply does not apply to --detach"},
	    {"--in s1", "no command given"},
	    {"--in .. -- true", "--in '..': a name is"},
	    {"--in s1 --memory 1G -- true", "--memory belongs to --detach"},
	    {"--in s1 --codebase /x -- true", "--codebase belongs to --detach"},
	    {"--in s1 --preset full-access -- true", "--preset belongs to --detach"},
	    {"--in s1 --tty -- sh", NULL},
	    {"--tty -- sh", "--tty needs --in"},
	    {"--name s1 --detach --tty", "--tty needs --in"},
	    {"--list --stop s1", "do not combine"},
	    {"--in s1 --list -- true", "do not combine"},
	    {"--json", "--json needs --list"},
	    {"--ttl 5 -- true", "--ttl and --idle-timeout need --detach"},
	    {"--name s1 --detach --ttl 0", "--ttl '0': invalid duration"},
	    {"--name s1 --detach --idle-timeout x", "--idle-timeout 'x': invalid duration"},
	    {"--list extra", "unexpected argument 'extra'"},
	    {"--stop s1 --env A=b", "belong to --in"},
	    {"--stop a/b", "--stop 'a/b'"},
	    {"--pause _x/", "--pause '_x/'"},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct fence_run_config c;
		char buf[512], err[512], *argv[MAXARGS];
		int argc = split(buf, sizeof(buf), cases[i].args, argv);
		int r = launch_config_parse(&c, argc, argv, err, sizeof(err));

		if (!cases[i].msg && r != 0)
			fail_msg("'%s': unexpected error '%s'", cases[i].args, err);
		if (cases[i].msg && (r != -EINVAL || !strstr(err, cases[i].msg)))
			fail_msg("'%s': expected '%s', got %d '%s'", cases[i].args, cases[i].msg, r,
				 err);
		launch_config_free(&c);
	}
}

static void test_session_fields(void **state)
{
	struct fence_run_config c;
	char buf[512], err[512], *argv[MAXARGS];
	int argc;

	(void)state;
	argc = split(buf, sizeof(buf), "--name s1 --detach --ttl 2m --idle-timeout 30 -- sleep 9",
		     argv);
	assert_int_equal(launch_config_parse(&c, argc, argv, err, sizeof(err)), 0);
	assert_string_equal(c.name, "s1");
	assert_true(c.detach);
	assert_true(c.ttl == 120.0);
	assert_true(c.idle_timeout == 30.0);
	assert_int_equal(c.ncommand, 2);
	assert_string_equal(c.command[0], "sleep");
	assert_false(launch_session_is_client(&c));
	launch_config_free(&c);
	argc = split(buf, sizeof(buf), "--stop --all", argv);
	assert_int_equal(launch_config_parse(&c, argc, argv, err, sizeof(err)), 0);
	assert_true(c.stop_all);
	assert_null(c.stop);
	assert_true(launch_session_is_client(&c));
	launch_config_free(&c);
	/* A one-shot run is untouched. */
	argc = split(buf, sizeof(buf), "ls -l", argv);
	assert_int_equal(launch_config_parse(&c, argc, argv, err, sizeof(err)), 0);
	assert_false(launch_session_is_client(&c));
	assert_false(c.detach);
	assert_int_equal(c.ncommand, 2);
	launch_config_free(&c);
	argc = split(buf, sizeof(buf), "--codebase /x", argv);
	assert_int_equal(launch_config_parse(&c, argc, argv, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "no command given");
	launch_config_free(&c);
}

static const char *const *fake_env;
static const char *fake_get(const char *key)
{
	for (size_t i = 0; fake_env[i]; i += 2)
		if (!strcmp(fake_env[i], key))
			return fake_env[i + 1];
	return NULL;
}

static void test_base(void **state)
{
	static const char *const none[] = {NULL};
	static const char *const xdg[] = {"XDG_RUNTIME_DIR", "/run/user/1000", NULL};
	static const char *const over[] = {"XDG_RUNTIME_DIR", "/run/user/1000",
					   "FENCE_RUN_STATE_DIR", "/srv/st", NULL};
	static const char *const rel[] = {"FENCE_RUN_STATE_DIR", "st", NULL};
	char out[256], err[256];

	(void)state;
	fake_env = none;
	assert_int_equal(launch_session_base(out, sizeof(out), true, fake_get, err, sizeof(err)),
			 0);
	assert_string_equal(out, "/run/fence-run");
	assert_int_equal(launch_session_base(out, sizeof(out), false, fake_get, err, sizeof(err)),
			 -ENOENT);
	assert_non_null(strstr(err, "XDG_RUNTIME_DIR is not set"));
	fake_env = xdg;
	assert_int_equal(launch_session_base(out, sizeof(out), false, fake_get, err, sizeof(err)),
			 0);
	assert_string_equal(out, "/run/user/1000/fence-run");
	assert_int_equal(launch_session_base(out, sizeof(out), true, fake_get, err, sizeof(err)),
			 0);
	assert_string_equal(out, "/run/fence-run");
	fake_env = over;
	assert_int_equal(launch_session_base(out, sizeof(out), false, fake_get, err, sizeof(err)),
			 0);
	assert_string_equal(out, "/srv/st");
	fake_env = rel;
	assert_int_equal(launch_session_base(out, sizeof(out), true, fake_get, err, sizeof(err)),
			 -EINVAL);
}

static void test_exec_payload(void **state)
{
	char *argv[] = {(char *)"sh", (char *)"-c", (char *)"", (char *)"x y", NULL};
	char *env[] = {(char *)"A=1", (char *)"B=", NULL};
	char **a, **e;
	const char *wd;
	struct buf b = {0};

	(void)state;
	launch_exec_encode(&b, "src", argv, 4, env, 2);
	assert_false(b.oom);
	assert_int_equal(launch_exec_decode(b.data, b.len, 4, 2, &wd, &a, &e), 0);
	assert_string_equal(wd, "src");
	assert_string_equal(a[0], "sh");
	assert_string_equal(a[2], "");
	assert_string_equal(a[3], "x y");
	assert_null(a[4]);
	assert_string_equal(e[1], "B=");
	assert_null(e[2]);
	free(a);
	free(e);
	/* Counts that do not match the strings. */
	assert_int_equal(launch_exec_decode(b.data, b.len, 5, 2, &wd, &a, &e), -EPROTO);
	assert_int_equal(launch_exec_decode(b.data, b.len, 4, 1, &wd, &a, &e), -EPROTO);
	assert_int_equal(launch_exec_decode(b.data, b.len, 0, 6, &wd, &a, &e), -EPROTO);
	assert_int_equal(
	    launch_exec_decode(b.data, b.len, LAUNCH_WIRE_MAX_ARGS + 1, 0, &wd, &a, &e), -EPROTO);
	/* Not NUL-terminated. */
	assert_int_equal(launch_exec_decode(b.data, b.len - 1, 4, 2, &wd, &a, &e), -EPROTO);
	assert_null(a);
	buf_free(&b);
	/* An environment string without '=' or with an empty key. */
	{
		char *bad[] = {(char *)"NOEQ", NULL}, *bad2[] = {(char *)"=v", NULL};

		launch_exec_encode(&b, "", argv, 1, bad, 1);
		assert_int_equal(launch_exec_decode(b.data, b.len, 1, 1, &wd, &a, &e), -EPROTO);
		buf_free(&b);
		launch_exec_encode(&b, "", argv, 1, bad2, 1);
		assert_int_equal(launch_exec_decode(b.data, b.len, 1, 1, &wd, &a, &e), -EPROTO);
		buf_free(&b);
	}
	/* An empty command name. */
	{
		char *empty[] = {(char *)"", NULL};

		launch_exec_encode(&b, "", empty, 1, NULL, 0);
		assert_int_equal(launch_exec_decode(b.data, b.len, 1, 0, &wd, &a, &e), -EPROTO);
		buf_free(&b);
	}
}

static void test_wire(void **state)
{
	static char buf[LAUNCH_WIRE_MAX_PAYLOAD + 1];
	struct launch_wire h = {.type = LAUNCH_WIRE_EXEC, .id = 7, .arg = 1500}, g;
	int sp[2], fds[3], nfds, three[3];

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp), 0);
	three[0] = three[1] = three[2] = sp[0];
	assert_int_equal(launch_wire_send(sp[0], &h, "abc", 4, three, 3), 0);
	assert_int_equal(launch_wire_recv(sp[1], &g, buf, LAUNCH_WIRE_MAX_PAYLOAD, fds, &nfds), 0);
	assert_int_equal(g.type, LAUNCH_WIRE_EXEC);
	assert_int_equal(g.id, 7);
	assert_int_equal(g.len, 4);
	assert_true(g.arg == 1500);
	assert_string_equal(buf, "abc");
	assert_int_equal(nfds, 3);
	for (int i = 0; i < 3; i++) {
		assert_true(fcntl(fds[i], F_GETFD) & FD_CLOEXEC);
		close(fds[i]);
	}
	/* A payload larger than the receiver's buffer: refused, not cut. */
	assert_int_equal(launch_wire_send(sp[0], &h, buf, 100, NULL, 0), 0);
	assert_int_equal(launch_wire_recv(sp[1], &g, buf, 50, fds, &nfds), -EMSGSIZE);
	/* A datagram shorter than the header. */
	assert_int_equal(send(sp[0], "xy", 2, 0), 2);
	assert_int_equal(launch_wire_recv(sp[1], &g, buf, 50, fds, &nfds), -EPROTO);
	/* A header whose len lies. */
	{
		struct launch_wire lie = {.type = 'I', .len = 9};

		assert_int_equal(send(sp[0], &lie, sizeof(lie), 0), (ssize_t)sizeof(lie));
		assert_int_equal(launch_wire_recv(sp[1], &g, buf, 50, fds, &nfds), -EPROTO);
	}
	/* Too many fds for a sender, and the sender's size bound. */
	assert_int_equal(launch_wire_send(sp[0], &h, NULL, 0, three, 4), -EMSGSIZE);
	assert_int_equal(launch_wire_send(sp[0], &h, buf, LAUNCH_WIRE_MAX_PAYLOAD + 1, NULL, 0),
			 -EMSGSIZE);
	close(sp[0]);
	assert_int_equal(launch_wire_recv(sp[1], &g, buf, 50, fds, &nfds), -EPIPE);
	close(sp[1]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_names),	   cmocka_unit_test(test_session_options),
	    cmocka_unit_test(test_session_fields), cmocka_unit_test(test_base),
	    cmocka_unit_test(test_exec_payload),   cmocka_unit_test(test_wire),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
