/*
 * closeout.c - the last check of every vmmu command: did stdout get out?
 *
 * stdio buffers stdout, so a write error (a full disk, /dev/full, a closed
 * pipe with SIGPIPE ignored) often shows only when the buffer is flushed at
 * exit, after every command has already decided its status. As coreutils'
 * close_stdout() does, main() flushes and closes stdout itself and turns a
 * failure into a message and a non-zero status.
 *
 * Invariant: called once, as the last thing main() does; nothing writes to
 * stdout afterwards.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"

int cli_close_stdout(int status)
{
	int err = 0;

	if (fflush(stdout) != 0)
		err = errno ? errno : EIO;
	if (ferror(stdout) && err == 0)
		err = EIO;
	/* A descriptor closed by the caller (>&-) with nothing written to it
	 * is not a write error. */
	errno = 0;
	if (fclose(stdout) != 0 && err == 0 && errno != EBADF)
		err = errno ? errno : EIO;
	if (err == 0)
		return status;
	cli_error("write error on stdout: %s", strerror(err));
	return status == CLI_EXIT_OK ? CLI_EXIT_FAIL : status;
}
