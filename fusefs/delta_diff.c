// SPDX-License-Identifier: Apache-2.0
/* PLACEHOLDER: to be replaced by the real implementation. */
#include <stdio.h>
#include "commands.h"
int cmd_diff(int argc, char **argv) { fprintf(stderr, "fencefs: cmd_diff: not implemented yet\n"); return 2; }
