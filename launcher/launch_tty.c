// SPDX-License-Identifier: Apache-2.0
/*
 * launch_tty.c - fence-run --in NAME --tty (issue 17): a pseudo-terminal
 * for one command.  The pair is allocated here, on the host side, by the
 * client: the slave goes to the command as its fds 0-2 (the command makes
 * it its controlling terminal in its new session, launch_exec.c), the
 * master stays with the client, which relays it to and from its own
 * stdin/stdout, puts its terminal in raw mode meanwhile (so ^C, ^Z and
 * friends reach the command's line discipline as bytes), and copies the
 * window size at start and on every SIGWINCH.
 *
 * The command only ever holds the slave: TIOCSTI is refused by the
 * sandbox's seccomp filter, so it cannot type into anything, and the
 * master (the client's) never enters the sandbox.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include "launch_tty.h"

int launch_tty_open(struct launch_tty *t)
{
	char name[128];
	struct winsize ws = {.ws_row = 24, .ws_col = 80};

	*t = (struct launch_tty){.master = -1, .slave = -1};
	t->master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (t->master < 0)
		return -errno;
	if (grantpt(t->master) < 0 || unlockpt(t->master) < 0 ||
	    ptsname_r(t->master, name, sizeof(name)) != 0)
		goto out_close;
	t->slave = open(name, O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (t->slave < 0)
		goto out_close;
	if (isatty(0))
		(void)ioctl(0, TIOCGWINSZ, &ws);
	(void)ioctl(t->master, TIOCSWINSZ, &ws);
	if (isatty(0) && tcgetattr(0, &t->saved) == 0) {
		struct termios raw = t->saved;

		cfmakeraw(&raw);
		if (tcsetattr(0, TCSANOW, &raw) == 0)
			t->raw = true;
	}
	t->in_open = true;
	return 0;
out_close : {
	int e = errno ? errno : EIO;

	launch_tty_close(t);
	return -e;
}
}

void launch_tty_winch(struct launch_tty *t)
{
	struct winsize ws;

	if (t->master >= 0 && isatty(0) && ioctl(0, TIOCGWINSZ, &ws) == 0)
		(void)ioctl(t->master, TIOCSWINSZ, &ws);
}

static bool write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t k = write(fd, p, n);

		if (k < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN) {
				(void)poll(&(struct pollfd){.fd = fd, .events = POLLOUT}, 1, 100);
				continue;
			}
			return false;
		}
		p += k;
		n -= (size_t)k;
	}
	return true;
}

int launch_tty_pollfds(const struct launch_tty *t, struct pollfd *p)
{
	int n = 0;

	if (t->master >= 0 && !t->master_eof)
		p[n++] = (struct pollfd){.fd = t->master, .events = POLLIN};
	if (t->master >= 0 && !t->master_eof && t->in_open)
		p[n++] = (struct pollfd){.fd = 0, .events = POLLIN};
	return n;
}

void launch_tty_relay(struct launch_tty *t, const struct pollfd *p, int n)
{
	char buf[8192];
	ssize_t k;

	for (int i = 0; i < n; i++) {
		if (!p[i].revents)
			continue;
		if (p[i].fd == t->master) {
			k = read(t->master, buf, sizeof(buf));
			/*
			 * EIO: every holder of the slave has closed it.  The
			 * master stays open until the command's status is in:
			 * closing it hangs the pty up, and a command that
			 * closed its fds but has not exited yet (cat does)
			 * would die of SIGHUP.
			 */
			if (k <= 0 && !(k < 0 && (errno == EINTR || errno == EAGAIN))) {
				t->master_eof = true;
			} else if (k > 0 && !write_all(1, buf, (size_t)k)) {
				/* Our stdout is gone: hang the pty up (SIGHUP
				 * for the command, as a broken pipe would
				 * SIGPIPE it) rather than let it block. */
				(void)close(t->master);
				t->master = -1;
			}
		} else if (p[i].fd == 0) {
			k = read(0, buf, sizeof(buf));
			if (k > 0) {
				(void)write_all(t->master, buf, (size_t)k);
			} else if (k == 0 || (errno != EINTR && errno != EAGAIN)) {
				/* The end of a piped stdin: an end-of-file for a
				 * reader in canonical mode, as at a keyboard. */
				t->in_open = false;
				if (!t->raw)
					(void)write_all(t->master, "\004", 1);
			}
		}
	}
}

void launch_tty_drain(struct launch_tty *t, int ms)
{
	while (t->master >= 0 && !t->master_eof) {
		struct pollfd p = {.fd = t->master, .events = POLLIN};

		if (poll(&p, 1, ms) <= 0)
			break;
		launch_tty_relay(t, &p, 1);
	}
}

void launch_tty_close(struct launch_tty *t)
{
	if (t->raw)
		(void)tcsetattr(0, TCSANOW, &t->saved);
	t->raw = false;
	if (t->slave >= 0)
		(void)close(t->slave);
	if (t->master >= 0)
		(void)close(t->master);
	t->slave = t->master = -1;
}
