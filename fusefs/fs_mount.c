// SPDX-License-Identifier: Apache-2.0
/* PLACEHOLDER: to be replaced by the real implementation. */
#include <stdio.h>
#include "commands.h"
int cmd_mount(int argc, char **argv) { fprintf(stderr, "fencefs: cmd_mount: not implemented yet\n"); return 2; }
int cmd_umount(int argc, char **argv) { fprintf(stderr, "fencefs: cmd_umount: not implemented yet\n"); return 2; }
