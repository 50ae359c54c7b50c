/*
 * replay_main.c - a plain driver for the fuzz harnesses: run
 * LLVMFuzzerTestOneInput() once on each file named on the command line (a
 * directory stands for the files in it). `make test` builds every harness
 * with it and the normal compiler, and replays the seed corpus and every
 * regression input, so a crash found once stays fixed without libFuzzer.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz.h"

static int replay_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf = NULL;
	size_t len = 0, cap = 0, n;

	if (f == NULL) {
		fprintf(stderr, "replay: cannot open '%s'\n", path);
		return -1;
	}
	do {
		if (cap - len < 4096) {
			uint8_t *nb = realloc(buf, cap ? cap * 2 : 8192);
			if (nb == NULL) {
				free(buf);
				fclose(f);
				return -1;
			}
			buf = nb;
			cap = cap ? cap * 2 : 8192;
		}
		n = fread(buf + len, 1, cap - len, f);
		len += n;
	} while (n > 0);
	fclose(f);
	LLVMFuzzerTestOneInput(buf, len);
	free(buf);
	return 0;
}

static int by_name(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

int main(int argc, char **argv)
{
	int ran = 0, bad = 0;

	for (int k = 1; k < argc; k++) {
		struct stat sb;
		if (stat(argv[k], &sb) != 0) {
			fprintf(stderr, "replay: no such input '%s'\n", argv[k]);
			bad++;
			continue;
		}
		if (!S_ISDIR(sb.st_mode)) {
			bad += replay_file(argv[k]) != 0;
			ran++;
			continue;
		}
		struct dirent **ents;
		int n = scandir(argv[k], &ents, NULL, by_name);
		for (int e = 0; e < n; e++) {
			char path[4096];
			snprintf(path, sizeof(path), "%s/%s", argv[k], ents[e]->d_name);
			if (ents[e]->d_name[0] != '.' && stat(path, &sb) == 0 &&
			    S_ISREG(sb.st_mode)) {
				bad += replay_file(path) != 0;
				ran++;
			}
			free(ents[e]);
		}
		free(ents);
	}
	fprintf(stderr, "replay: %d inputs, %d unreadable\n", ran, bad);
	return bad ? 1 : 0;
}
