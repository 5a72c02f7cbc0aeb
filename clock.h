/*
 * The one clock for deadlines: monotonic milliseconds.  Ground floor:
 * the transport, the engine and the AuthPassCommand runner all measure
 * their waits with it.
 */
#ifndef SSMTP_CLOCK_H
#define SSMTP_CLOCK_H

/* Milliseconds on the monotonic clock (never set back). */
long long	clock_ms(void);

#endif
