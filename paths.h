/*
 * The user's own places: the home directory and private folders in it.
 * Ground floor: used by the queue and the TLS session cache.
 */
#ifndef SSMTP_PATHS_H
#define SSMTP_PATHS_H

#include "err.h"

/*
 * The user's home: HOME when it is an absolute path, else the passwd
 * entry's when that is; NULL when there is none.
 */
const char *home_dir(void);

/*
 * Make path and the folders above it that are missing, each mode 0700
 * (as the XDG base directories are).  Returns 0, or -1 with ERR_IOERR:
 * "cannot create the <what> <folder>: <why>".
 */
int	make_private_dirs(const char *path, const char *what, struct err *);

#endif
