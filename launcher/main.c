// SPDX-License-Identifier: Apache-2.0
/* PLACEHOLDER: to be replaced by the real launcher. */
#include <stdio.h>
int main(void) { fprintf(stderr, "fence-run: not implemented yet\n"); return 125; }
