/*
 * fuzz_gitconfig.c: libFuzzer target for the git config reader that finds
 * core.hooksPath (src/sandbox/view.c). The input is a repository's config
 * as found on disk; every value returned must be a NUL-free, non-empty
 * string no longer than the input.
 */
#include "sandbox/sandbox.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct hs_strv out = {0};
	hs_gitconfig_hooks_paths((const char *)data, size, &out);
	for (size_t i = 0; i < out.n; i++) {
		size_t n = strlen(out.v[i]);
		if (n == 0 || n > size) {
			fprintf(stderr, "fuzz_gitconfig: bad value of length %zu\n", n);
			abort();
		}
	}
	hs_strv_clear(&out);
	return 0;
}
