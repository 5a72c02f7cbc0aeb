/*
 * Keeping a message that could not be sent: appended whole to the dead
 * letter file in mboxrd format, locked, mode 0600, never through a link.
 */
#ifndef SSMTP_DEADLETTER_H
#define SSMTP_DEADLETTER_H

#include <stddef.h>

#include "err.h"
#include "message.h"

/*
 * The file to use: path when set, else $HOME/dead.letter (the passwd home
 * when HOME is unset), else dead.letter.<uid> in $TMPDIR or /var/tmp.
 * Writes the chosen path into buf.
 */
void	deadletter_path(const char *path, char *buf, size_t size);

/*
 * Append the message's raw bytes, as read from stdin, with a "From "
 * line; lines starting with ">*From " get one more '>' (mboxrd).  The
 * file must be a regular file of this user with one link, opened without
 * blocking; when it is refused or cannot be opened (a warning says why),
 * the message goes to a new private file (mode 0600, a random name made
 * with O_EXCL) in $TMPDIR or /var/tmp.  The path written is copied into
 * used.  Returns 0, or -1 with ERR_IOERR naming the file.
 */
int	deadletter_save(const struct message *, const char *file,
	    const char *sender, char *used, size_t usedsz, struct err *);

#endif
