/* Unit tests for hypeman/pem.c: what counts as PEM certificates (the egress proxy's CA). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "check.h"
#include "pem.h"

#define B "-----BEGIN CERTIFICATE-----\n"
#define E "-----END CERTIFICATE-----\n"

static void test_good(void)
{
	const char *why = NULL;

	CHECK_INT(hm_pem_certificates(B "QUJD\n" E, &why), 1);
	CHECK_INT(hm_pem_certificates(B "QUI=\n" E, NULL), 1);
	CHECK_INT(hm_pem_certificates(B "QQ==" "\n" E, NULL), 1);
	/* CRLF, no newline at the end, whitespace in the body */
	CHECK_INT(hm_pem_certificates("-----BEGIN CERTIFICATE-----\r\nQU\r\n JD\r\n-----END CERTIFICATE-----", NULL), 1);
	/* explanatory text around blocks (RFC 7468), two certificates */
	CHECK_INT(hm_pem_certificates("Subject: x\n" B "QUJD\n" E "# next\n" B "QUJDRA==\n" E, NULL), 2);
}

static void test_bad(void)
{
	const char *why = NULL;

	CHECK_INT(hm_pem_certificates("", &why), 0);
	CHECK_STR(why, "no -----BEGIN CERTIFICATE----- line");
	CHECK_INT(hm_pem_certificates("not a certificate\n", &why), 0);
	CHECK_INT(hm_pem_certificates(B "QUJD\n", &why), 0);
	CHECK_STR(why, "a certificate has no -----END CERTIFICATE----- line after its body");
	CHECK_INT(hm_pem_certificates(B E, &why), 0);
	CHECK_STR(why, "a certificate's body is not whole base64");
	CHECK_INT(hm_pem_certificates(B "QUJ\n" E, &why), 0);
	CHECK_INT(hm_pem_certificates(B "QU*D\n" E, &why), 0);
	CHECK_STR(why, "a certificate's body is not whole base64");
	CHECK_INT(hm_pem_certificates(B "QUJD\nQUJD*\n" E, &why), 0);
	CHECK_STR(why, "a certificate has no -----END CERTIFICATE----- line after its body");
	CHECK_INT(hm_pem_certificates(B "Q=JD\n" E, &why), 0);
	CHECK_INT(hm_pem_certificates(B "QQ===\n" E, &why), 0);
	/* the armour must be whole lines */
	CHECK_INT(hm_pem_certificates("x-----BEGIN CERTIFICATE-----\nQUJD\n" E, &why), 0);
	CHECK_INT(hm_pem_certificates(B "QUJD\n-----END CERTIFICATE----- x\n", &why), 0);
	/* a private key is not a certificate */
	CHECK_INT(hm_pem_certificates("-----BEGIN PRIVATE KEY-----\nQUJD\n-----END PRIVATE KEY-----\n", &why), 0);
	/* one bad block spoils the lot */
	CHECK_INT(hm_pem_certificates(B "QUJD\n" E B "QU\n" E, &why), 0);
}

/* Every prefix of a good text: refused or counted, never read past the end. */
static void test_prefixes(void)
{
	const char text[] = B "QUJDRA==\n" E;
	size_t i;

	for (i = 0; i < sizeof(text); i++) {
		char *p = strndup(text, i);
		int n = hm_pem_certificates(p, NULL);

		CHECKF(n == (i >= sizeof(text) - 2 ? 1 : 0), "prefix of %zu bytes: %d", i, n);
		free(p);
	}
}

int main(void)
{
	CHECK_CASE(test_good());
	CHECK_CASE(test_bad());
	CHECK_CASE(test_prefixes());
	return check_done();
}
