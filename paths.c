/*
 * The user's own places (paths.h).
 */
#include <sys/stat.h>

#include <errno.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "paths.h"

const char *
home_dir(void)
{
	const char *home = getenv("HOME");
	struct passwd *pw;

	if ((home == NULL || *home != '/') && (pw = getpwuid(getuid())) !=
	    NULL)
		home = pw->pw_dir;
	return home != NULL && *home == '/' ? home : NULL;
}

int
make_private_dirs(const char *path, const char *what, struct err *e)
{
	char p[4096];
	size_t i, len;

	if ((len = strlcpy(p, path, sizeof(p))) >= sizeof(p))
		return err_set(e, ERR_IOERR, "%.100s...: path too long", path);
	for (i = 1; i <= len; i++) {
		if (p[i] != '/' && p[i] != '\0')
			continue;
		p[i] = '\0';
		if (mkdir(p, 0700) == -1 && errno != EEXIST)
			return err_set(e, ERR_IOERR, "cannot create the %s %s: "
			    "%s", what, p, strerror(errno));
		if (i < len)
			p[i] = '/';
	}
	return 0;
}
