/* The OpenSSL provider ssmtp fetches from (provider.c). */
#ifndef SSMTP_PROVIDER_H
#define SSMTP_PROVIDER_H

/*
 * Make the process's OpenSSL fetch from ssmtp's provider: the default
 * provider less the ciphers libssl never asks for and, unless key_decoders
 * (a client key is to be read), the decoders of all but certificates'
 * keys.  Call it before anything else fetches an algorithm.  Returns 0
 * when it could not: OpenSSL then loads its default provider, as always.
 */
int	provider_setup(int key_decoders);

#endif
