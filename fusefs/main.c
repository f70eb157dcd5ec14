// SPDX-License-Identifier: Apache-2.0
/*
 * fencefs - mount a codebase through glob access rules with a copy-on-write
 * delta, and inspect, commit or discard what was written.
 */
#include <stdio.h>
#include <string.h>

#include "commands.h"

static const struct {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *summary;
} commands[] = {
	{ "mount", cmd_mount, "mount SOURCE at MOUNTPOINT through a policy" },
	{ "umount", cmd_umount, "unmount a fencefs mount" },
	{ "explain", cmd_explain, "show the level of each PATH and the rule that decided it" },
	{ "presets", cmd_presets, "list the built-in presets" },
	{ "audit", cmd_audit, "summarise audit logs" },
	{ "diff", cmd_diff, "show what a delta changes" },
	{ "commit", cmd_commit, "apply a delta to its source" },
	{ "discard", cmd_discard, "remove a delta" },
};

static void usage(FILE *f)
{
	size_t i;

	fprintf(f, "usage: fencefs COMMAND [OPTIONS] [ARGS]\n\ncommands:\n");
	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(f, "  %-8s  %s\n", commands[i].name, commands[i].summary);
	fprintf(f, "\nRun 'fencefs COMMAND --help' for a command's options; see fencefs(1).\n");
}

int main(int argc, char **argv)
{
	size_t i;

	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		usage(stdout);
		return 0;
	}
	if (!strcmp(argv[1], "--version")) {
		printf("fencefs %s\n", FENCE_VERSION);
		return 0;
	}
	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (!strcmp(argv[1], commands[i].name))
			return commands[i].fn(argc - 1, argv + 1);
	fprintf(stderr, "fencefs: unknown command '%s'\n", argv[1]);
	usage(stderr);
	return 2;
}
