/* fuzz_settings.c - the settings file parser: any bytes, never a crash;
 * a refused file names itself and a line, and leaves the settings as
 * they were. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "log.h"
#include "settings.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int fd = -1;
	struct settings s, before;
	char path[64], err[512];

	if (fd < 0) {
		/* unknown keys warn: to syslog (nowhere here), not over
		 * libFuzzer's own output */
		log_init("fuzz", LOG_TO_SYSLOG, 0);
		fd = memfd_create("settings", 0);
		if (fd < 0)
			abort();
	}
	if (ftruncate(fd, 0) < 0 || pwrite(fd, data, size, 0) != (ssize_t)size)
		abort();
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	settings_defaults(&s);
	before = s;
	if (settings_load(&s, path, true, err, sizeof(err)) < 0) {
		if (strncmp(err, path, strlen(path)) != 0)
			abort();
		if (s.window_ms != before.window_ms || strcmp(s.map_path, before.map_path) != 0)
			abort();
	} else if (s.window_ms < 1000 || s.window_ms > 31ULL * 86400 * 1000) {
		abort(); /* the bounds hold for anything accepted */
	}
	settings_free(&s);
	return 0;
}
