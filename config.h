/*
 * ssmtp.conf and revaliases: parse, validate, report "file:line" errors.
 * The format is sSMTP 2.64's (key=value, '#' comments), with our keys added.
 */
#ifndef SSMTP_CONFIG_H
#define SSMTP_CONFIG_H

#include <stddef.h>

#include "err.h"

#ifndef SSMTP_CONF_DIR
#define SSMTP_CONF_DIR	"/etc/ssmtp"
#endif

#define CONF_MAX_HUBS	16
#define CONF_MAX_HEADERS 32
#define CONF_VALUE_MAX	4095		/* bytes in a value */
#define CONF_FILE_MAX	(16 * 1024 * 1024)	/* a CA file, a key */
#define CONF_QUEUE_DIR	"/var/spool/ssmtp"	/* root's queue */
#define CONF_QUEUE_LIFETIME (5L * 86400)	/* 5 days */

/* A file's bytes, read while ssmtp may still read protected files. */
struct conf_blob {
	char		*data;
	size_t		 len;
};

struct hub {
	char		*host;		/* name or address, no brackets */
	int		 port;		/* 0: the default for the TLS mode */
};

enum conf_tristate { CONF_UNSET = -1, CONF_NO = 0, CONF_YES = 1 };

/* TLSMinVersion values; tls.c maps them to OpenSSL's. */
enum conf_tls_version {
	CONF_TLS_1_0 = 10, CONF_TLS_1_1 = 11, CONF_TLS_1_2 = 12,
	CONF_TLS_1_3 = 13
};

/* One entry of an aliases file: a local name and what it stands for. */
struct alias {
	char		*name;
	char	       **to;		/* addresses or local names */
	size_t		 nto;
	size_t		 line;		/* where it was defined */
};

struct config {
	char		*path;		/* the file read */
	char		*root;		/* Root= */
	struct hub	 hubs[CONF_MAX_HUBS];
	size_t		 nhubs;
	char		*rewrite_domain;
	char		*hostname;
	int		 from_line_override;
	int		 use_tls;		/* implicit TLS */
	int		 use_starttls;		/* conf_tristate */
	int		 use_tls_cert;
	char		*tls_cert;
	char		*tls_key;
	char		*tls_ca_file;
	char		*tls_ca_dir;
	int		 tls_verify;
	unsigned char	 tls_fingerprint[32];
	int		 has_fingerprint;
	int		 tls_min_version;	/* enum conf_tls_version */
	char		*auth_user;
	char		*auth_pass;		/* secret: wiped on free */
	char		*auth_pass_command;
	char		*auth_method;		/* NULL: the best offered */
	char		*add_headers[CONF_MAX_HEADERS];
	size_t		 nadd_headers;
	int		 debug;
	int		 timeout;		/* seconds, 0: per-step defaults */
	char		*dead_letter;		/* NULL: $HOME/dead.letter */
	int		 dead_letter_off;
	char		*revaliases;		/* NULL: SSMTP_CONF_DIR's */
	char		*aliases_path;		/* Aliases= */
	struct alias	*aliases;		/* read from it */
	size_t		 naliases;
	int		 use_chunking;		/* BDAT when offered */
	int		 idle_timeout;		/* -bs: a silent caller, s */
	int		 queue;			/* Queue=YES: keep and retry */
	char		*queue_dir;		/* QueueDir=: root's queue */
	long		 queue_lifetime;	/* QueueLifetime=, seconds */
	int		 tls_session_cache;	/* TLSSessionCache=, YES */
	struct conf_blob tls_ca_pem;		/* TLS_CA_File's bytes */
	struct conf_blob tls_cert_pem;		/* TLSCert's */
	struct conf_blob tls_key_pem;		/* TLSKey's: wiped on free */
};

/* Set every field to its default. */
void	conf_init(struct config *);

/* Free what conf_parse_* allocated and wipe the secrets. */
void	conf_free(struct config *);

/*
 * Parse one line (without its newline).  Returns 0 when the line was used
 * or was blank or a comment, 1 with e naming the key when the key is
 * unknown (the caller warns), -1 with ERR_CONFIG (no file:line prefix)
 * when the line is malformed or the value is invalid.  The message shows
 * at most the line's first word and the key's name, never a secret.
 */
int	conf_parse_line(struct config *, const char *line, struct err *);

/*
 * Set one key to a value used as given (no trimming, no comments): the
 * -au, -ap and -am options.  Returns 0, 1 when the key is unknown, -1
 * with ERR_CONFIG when the value is invalid; the message never holds the
 * value of a secret.
 */
int	conf_set(struct config *, const char *key, const char *value,
	    struct err *);

/*
 * Read a whole ssmtp.conf: only a regular file, never blocking, each line
 * bounded (CONF_LINE_MAX) while it is read.  Errors name the file (and
 * line) and are of kind ERR_CONFIG, and never show a line's value;
 * unknown keys are warned about on stderr.
 */
int	conf_load(struct config *, const char *path, struct err *);

/*
 * Read the files the TLS setup will need, TLS_CA_File and (with
 * UseTLSCert) TLSCert and TLSKey, into memory: ssmtp reads them while it
 * may still read protected files, and parses them when TLS starts.
 * Errors: ERR_CONFIG naming the file.
 */
int	conf_read_tls_files(struct config *, struct err *);

/*
 * Read the Aliases file (when the key is set), in the /etc/aliases style:
 * "name: address, address", '#' comments, lines starting with a blank
 * continuing the one before.  "|command", "/file" and ":include:"
 * entries are refused, never run.  Errors: ERR_CONFIG with file:line.
 */
int	conf_load_aliases(struct config *, struct err *);

/* The entry for a local name (without case), or NULL. */
const struct alias *conf_alias(const struct config *, const char *name);

/* Wipe and free a blob. */
void	conf_blob_free(struct conf_blob *);

/*
 * Parse "host[:port]", "[addr]:port" or a comma-separated list of those
 * into the config's hub list (replacing it).  Returns -1 with ERR_CONFIG
 * when an entry is malformed.
 */
int	conf_parse_hubs(struct config *, const char *, struct err *);

/*
 * Look up a local user in a revaliases file.  On a match, *from gets the
 * address and *hub (when the line names one) the hub; both allocated.
 * Returns 1 on a match, 0 when none or the file does not exist, -1 on a
 * malformed line or an unreadable file (ERR_CONFIG).
 */
int	conf_revalias(const char *path, const char *user, char **from,
	    struct hub *hub, struct err *);

/* Parse a YES/NO style value.  Returns 0 or 1, -1 when it is neither. */
int	conf_bool(const char *);

#endif
