/*
 * libFuzzer target: the guest's console as hypeman run reads it
 * (host/serial.c, through the contract layer's hm_logline_parse and
 * hm_marker_parse): anything the program in the VM prints reaches it.
 * The input is fed whole and in pieces; nothing is shown (stdout off).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "serial.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void feed(const uint8_t *data, size_t size, size_t step)
{
	struct hr_serial c;
	size_t i;

	hr_serial_init(&c, -1);
	c.stdout_ok = false;
	for (i = 0; i < size; i += step)
		hr_serial_feed(&c, (const char *)data + i, size - i < step ? size - i : step);
	hr_serial_end(&c);
	if (c.n_phases > HR_SERIAL_PHASES || strlen(c.exit_message) >= sizeof(c.exit_message)
	 || strlen(c.mode) >= sizeof(c.mode))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	feed(data, size, size ? size : 1);
	feed(data, size, 7);
	return 0;
}
