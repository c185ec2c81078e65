/*
 * Fixed key material for the payment crypto tests, so that vectors made outside this code
 * (the openssl command line, Python) can be checked against it. Throwaway: made for the tests,
 * used nowhere else.
 */
#ifndef SF_TESTKEYS_H
#define SF_TESTKEYS_H

/* An RSA-2048 private key (openssl genpkey), PKCS#8 PEM. */
extern const char T_FIXED_RSA_PEM[];

#endif
