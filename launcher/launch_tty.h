/* SPDX-License-Identifier: Apache-2.0 */
/*
 * launch_tty.h - the client side of fence-run --in NAME --tty
 * (launch_tty.c): a host-side pty pair whose slave the command gets as
 * fds 0-2, relayed to the caller's stdin/stdout with its window size.
 */
#ifndef FENCE_LAUNCH_TTY_H
#define FENCE_LAUNCH_TTY_H

#include <poll.h>
#include <stdbool.h>
#include <termios.h>

struct launch_tty {
	int master;	      /* ours, open until launch_tty_close() */
	bool master_eof;      /* EIO: no process holds the slave any more */
	int slave;	      /* for the command; close it once sent */
	bool in_open;	      /* our stdin still relayed */
	bool raw;	      /* our terminal was put in raw mode */
	struct termios saved; /* to restore */
};

/* Allocates the pair, copies the window size of fd 0 (24x80 when it is
 * not a terminal), puts fd 0 in raw mode when it is one.  0 or -errno. */
int launch_tty_open(struct launch_tty *t);
/* SIGWINCH: the caller's window size to the pty. */
void launch_tty_winch(struct launch_tty *t);
/* Fills P (room for 2) with what to poll; returns how many. */
int launch_tty_pollfds(const struct launch_tty *t, struct pollfd *p);
/* Relays what poll() found readable among the N entries of P. */
void launch_tty_relay(struct launch_tty *t, const struct pollfd *p, int n);
/* After the command's end: copies what is left, waiting up to MS each time. */
void launch_tty_drain(struct launch_tty *t, int ms);
/* Restores the terminal and closes both ends.  Safe to call twice. */
void launch_tty_close(struct launch_tty *t);

#endif
