/*
 * hypeman-init: whether a text is PEM certificates (RFC 7468), for the
 * egress proxy's CA (contract: Failure), without a TLS library.
 */
#ifndef HM_PEM_H
#define HM_PEM_H 1

/*
 * The number of certificates in TEXT: blocks from a line
 * "-----BEGIN CERTIFICATE-----" to a line "-----END CERTIFICATE-----"
 * with base64 between them (whitespace allowed, '=' only as padding at
 * the end, a multiple of 4 characters, not empty). Text outside the
 * blocks is allowed, as RFC 7468 allows it. 0 when there is none or
 * one is malformed (*WHY, when not NULL, says what was wrong).
 */
int hm_pem_certificates(const char *text, const char **why);

#endif
