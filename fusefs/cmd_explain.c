// SPDX-License-Identifier: Apache-2.0
/* PLACEHOLDER: to be replaced by the real implementation. */
#include <stdio.h>
#include "commands.h"
int cmd_explain(int argc, char **argv) { fprintf(stderr, "fencefs: cmd_explain: not implemented yet\n"); return 2; }
int cmd_presets(int argc, char **argv) { fprintf(stderr, "fencefs: cmd_presets: not implemented yet\n"); return 2; }
