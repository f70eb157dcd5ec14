/* SPDX-License-Identifier: Apache-2.0 */
/*
 * commands.h - the fencefs subcommands.  Each takes the arguments after
 * the subcommand name (argv[0] is the subcommand) and returns the process
 * exit status.  main.c only dispatches.
 */
#ifndef FENCE_COMMANDS_H
#define FENCE_COMMANDS_H

int cmd_mount(int argc, char **argv);   /* fs_mount.c */
int cmd_umount(int argc, char **argv);  /* fs_mount.c */
int cmd_explain(int argc, char **argv); /* cmd_explain.c */
int cmd_presets(int argc, char **argv); /* cmd_explain.c */
int cmd_audit(int argc, char **argv);   /* cmd_audit.c */
int cmd_diff(int argc, char **argv);    /* delta_diff.c */
int cmd_commit(int argc, char **argv);  /* delta_commit.c */
int cmd_discard(int argc, char **argv); /* delta_discard.c */

#endif
