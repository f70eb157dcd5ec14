// SPDX-License-Identifier: Apache-2.0
/* PLACEHOLDER: to be replaced by the real implementation. */
#include <stdio.h>
#include "commands.h"
int cmd_commit(int argc, char **argv) { fprintf(stderr, "fencefs: cmd_commit: not implemented yet\n"); return 2; }
int cmd_discard(int argc, char **argv) { fprintf(stderr, "fencefs: cmd_discard: not implemented yet\n"); return 2; }
