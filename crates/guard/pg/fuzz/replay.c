/*
 * replay.c: the regression harness for the tripwire's arm parser, without
 * libFuzzer: runs every file named on the command line through
 * arm_fuzz_one() (all of arm_fuzz.c's checks) and checks the verdict its
 * name promises: a file named "ok-..." must be accepted, "bad-..." refused
 * (any other name: run only). Exit 0 when all hold, 1 otherwise.
 * .ci/c-fuzz.sh builds it with AddressSanitizer and UndefinedBehaviorSanitizer
 * and runs it over crates/guard/pg/fuzz/corpus/arm.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arm_fuzz.h"

static const char *
base(const char *path)
{
	const char *slash = strrchr(path, '/');

	return slash ? slash + 1 : path;
}

int
main(int argc, char **argv)
{
	int			failed = 0;
	int			ran = 0;

	for (int i = 1; i < argc; i++)
	{
		FILE	   *f = fopen(argv[i], "rb");
		unsigned char *data;
		long		size;
		bool		accepted;
		const char *name = base(argv[i]);

		if (!f || fseek(f, 0, SEEK_END) != 0 || (size = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0)
		{
			fprintf(stderr, "replay: cannot read %s\n", argv[i]);
			return 1;
		}
		data = malloc(size ? (size_t) size : 1);
		if (!data || fread(data, 1, (size_t) size, f) != (size_t) size)
		{
			fprintf(stderr, "replay: cannot read %s\n", argv[i]);
			return 1;
		}
		fclose(f);
		accepted = arm_fuzz_one(data, (size_t) size);
		free(data);
		ran++;
		if ((strncmp(name, "ok-", 3) == 0 && !accepted) || (strncmp(name, "bad-", 4) == 0 && accepted))
		{
			fprintf(stderr, "replay: %s was %s\n", argv[i], accepted ? "accepted" : "refused");
			failed++;
		}
	}
	printf("replay: %d inputs, %d with the wrong verdict\n", ran, failed);
	return failed ? 1 : 0;
}
